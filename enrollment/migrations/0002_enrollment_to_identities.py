# The Enrollment records now belong to identities/ (identities.0002 took them over);
# this app forgets the model without touching its table.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('enrollment', '0001_initial'),
        ('identities', '0002_enrollment_from_enrollment_app'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name='Enrollment')],
            database_operations=[],
        ),
    ]
