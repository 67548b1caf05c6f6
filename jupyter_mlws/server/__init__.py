"""The jupyter_server side of jupyter_mlws: the ExtensionApp, its services and REST handlers.

Nothing in the package imports this module except the extension entry point
(`jupyter_mlws._jupyter_server_extension_points`).
"""
