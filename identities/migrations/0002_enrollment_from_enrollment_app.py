# The Enrollment records move from enrollment/ to identities/, which owns them now.
# State only: the table stays as it is (enrollment_enrollment) until 0003 renames it,
# so every token survives the move.

import django.db.models.deletion
import django.utils.timezone
import identities.models
import kernel.ids
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('authorities', '0001_initial'),
        ('enrollment', '0001_initial'),
        ('identities', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Enrollment',
                    fields=[
                        ('id', models.CharField(default=kernel.ids.new_id, editable=False, max_length=32, primary_key=True, serialize=False)),
                        ('method', models.CharField(choices=[('ott', 'One-time token'), ('ottca', 'One-time token with third-party CA')], max_length=8)),
                        ('token', models.CharField(default=identities.models.new_token, editable=False, max_length=64, unique=True)),
                        ('expires_at', models.DateTimeField()),
                        ('consumed_at', models.DateTimeField(blank=True, null=True)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                        ('ca', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='enrollments', to='authorities.certificateauthority')),
                        ('identity', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='enrollments', to='identities.identity')),
                    ],
                    options={
                        'ordering': ['-created_at'],
                        'db_table': 'enrollment_enrollment',
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
