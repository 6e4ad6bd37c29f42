"""Adapter: the Kubernetes API. The only package that imports the ``kubernetes`` client.

``informer.Informer`` lists, then watches from the list's resourceVersion, relists on
410 Gone and backs off on errors, delivering whole snapshots of plain dicts (the API's
JSON shape) so that consumers stay pure.
"""
