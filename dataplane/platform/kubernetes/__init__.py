"""The Kubernetes backend: the shared reconcilers over the API server (kubernetes-asyncio).

``store`` and ``runtime`` implement the controller's two seams (informer caches,
Deployments with the queue-proxy injected); ``routewriter`` turns Routes into
Gateway API HTTPRoutes; ``directory`` feeds the activator and the autoscaler;
``leader`` and ``plane`` run it all as `dataplane controller`.
"""
