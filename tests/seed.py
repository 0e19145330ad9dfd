"""The seed article's Listings 1 and 2 (v1alpha1), with the `command` a local run needs.

The same files ship as the sample in samples/knative-example, so the README's
walkthrough and the tests apply identical documents.
"""

from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "knative-example"

LISTING_1 = (SAMPLE / "app.yaml").read_text()
LISTING_2 = (SAMPLE / "app-cc1.yaml").read_text()
COMMAND_LINE = "            command: [node, index.js]\n"
