"""pytest setup for the assignments' tests (``coursework/A*/tests``).

Registers the ``task`` marker (every graded test carries ``@pytest.mark.task("A3.1")``)
and the ``--task`` option: ``pytest --task A3.2`` runs only that task's tests,
``--task A3`` the whole assignment (several ``--task`` options add up). The hooks live in
:mod:`coursework.pytest_plugin`, which a student tree also loads through ``addopts``;
they tolerate being loaded twice. In the project itself say ``pytest coursework --task A3.2``.
"""
from coursework.pytest_plugin import (  # noqa: F401  (hooks found by name)
    pytest_addoption, pytest_collection_modifyitems, pytest_configure)
