# The table of identities' Enrollment takes identities' name (a rename: the rows stay),
# and its content type follows, so permissions on enrollments keep pointing at it.

from django.db import migrations


def move_content_type(apps, schema_editor, old='enrollment', new='identities'):
    ContentType = apps.get_model('contenttypes', 'ContentType')
    db = schema_editor.connection.alias
    if not ContentType.objects.using(db).filter(app_label=new, model='enrollment').exists():
        ContentType.objects.using(db).filter(app_label=old, model='enrollment').update(app_label=new)


def move_content_type_back(apps, schema_editor):
    move_content_type(apps, schema_editor, old='identities', new='enrollment')


class Migration(migrations.Migration):

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('enrollment', '0002_enrollment_to_identities'),
        ('identities', '0002_enrollment_from_enrollment_app'),
    ]

    operations = [
        migrations.AlterModelTable(name='enrollment', table=None),
        migrations.RunPython(move_content_type, move_content_type_back),
    ]
