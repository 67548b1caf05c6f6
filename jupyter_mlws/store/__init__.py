"""Where a workspace keeps its data: the metadata store and the artifact store."""
