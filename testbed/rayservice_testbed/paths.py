"""Where the repository's own files are: the testbed is installed editable from this repository.

The example apps the tests deploy and the provider host's working directory are the repository's;
the KubeRay samples are the testbed's own copy (``data/kuberay_samples``).
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE.parents[1]
EXAMPLES = REPO_ROOT / "examples"
KUBERAY_SAMPLES = PACKAGE / "data" / "kuberay_samples"
