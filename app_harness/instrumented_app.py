"""The app as the browser tests and benchmarks run it: `streamlit_app.py`, plus the live counters that
app_harness.live_stats writes to the file named by FER_LIVE_STATS_FILE.

    FER_LIVE_STATS_FILE=/tmp/stats.json streamlit run app_harness/instrumented_app.py
"""

import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # Streamlit puts this script's own folder on the path, not the project's
    sys.path.insert(0, str(ROOT))

from app_harness.live_stats import attach_from_environment  # noqa: E402

attach_from_environment()
runpy.run_path(str(ROOT / "streamlit_app.py"), run_name="__main__")
