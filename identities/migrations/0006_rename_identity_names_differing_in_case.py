from django.db import migrations


def rename_case_duplicates(apps, schema_editor):
    """Names that differ only in case (`LAPTOP`, `laptop`) would break the new index:
    the oldest keeps its name, each later one becomes `name-2`, `name-3`, ... (the
    first free one), as auto enrollment names a collision. Ids, tokens and
    certificates stay, so enrolled devices are unaffected."""
    Identity = apps.get_model("identities", "Identity")
    taken = {name.lower() for name in Identity.objects.values_list("name", flat=True)}
    seen = set()
    for identity in Identity.objects.order_by("created_at", "id").iterator():
        key = identity.name.lower()
        if key not in seen:
            seen.add(key)
            continue
        counter = 2
        while True:
            suffix = f"-{counter}"
            candidate = identity.name[: 255 - len(suffix)] + suffix
            if candidate.lower() not in taken:
                break
            counter += 1
        taken.add(candidate.lower())
        seen.add(candidate.lower())
        Identity.objects.filter(pk=identity.pk).update(name=candidate)


class Migration(migrations.Migration):

    dependencies = [
        ("identities", "0005_authenticator_serial_index"),
    ]

    operations = [
        migrations.RunPython(rename_case_duplicates, migrations.RunPython.noop),
    ]
