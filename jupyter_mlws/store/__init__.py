"""Where a workspace keeps its data: the metadata store and the artifact store.

Metadata store: `base.MetadataStore` is the one interface (a small required
core plus conveniences); `factory.open_store(url)` picks the backend by URL
scheme (`sqlite`, `postgresql`; the REST store joins later); `sql/` is the
SQLAlchemy backend with its Alembic migrations in `migrations/`;
`filter.py` parses the run filter grammar; `downsample.py` thins long metric
series. Nothing here is imported by `import jupyter_mlws`.
"""
