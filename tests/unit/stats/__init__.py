"""Request statistics: the concurrency collector and the Stat wire format."""
