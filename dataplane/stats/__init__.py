"""Request statistics shared by queue-proxy, activator and autoscaler.

``collector`` turns request in/out events into Knative's time-weighted
concurrency averages; ``wire`` encodes them as the ``metrics.Stat`` protobuf
the autoscaler scrapes and receives.
"""
