# A migration of its own, after the renames have committed: PostgreSQL can refuse to
# change a table's schema in the transaction that changed its rows ("pending trigger
# events").
from django.db import migrations, models
from django.db.models.functions import Lower


class Migration(migrations.Migration):

    dependencies = [
        ("identities", "0006_rename_identity_names_differing_in_case"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="identity",
            constraint=models.UniqueConstraint(Lower("name"), name="identity_name_unique_ignoring_case"),
        ),
    ]
