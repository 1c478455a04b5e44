"""Process-wide test settings: Qt runs offscreen, litellm never reaches the network."""

import os

# Set before any test module imports Qt or litellm.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
