"""The OpenAPI schema stays coherent as modules add routers."""

from __future__ import annotations

from collections import defaultdict

from ninja import Schema


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_schema_names_are_unique():
    """django-ninja names OpenAPI components after the Schema class: two classes with one name in
    different modules silently overwrite each other in the published schema."""
    import grassroots.api  # noqa: F401 - loads every router

    by_name = defaultdict(set)
    for schema in _subclasses(Schema):
        if schema.__module__.startswith("grassroots."):
            by_name[schema.__name__].add(schema.__module__)
    clashes = {name: sorted(modules) for name, modules in by_name.items() if len(modules) > 1}
    assert not clashes, f"rename these Schema classes: {clashes}"


def test_the_schema_is_served(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert len(schema["paths"]) > 20
