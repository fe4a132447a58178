"""MLflow model registry on its SQLite backend, measured like benches/registry.rs.

Usage: python scripts/bench_registry_mlflow.py ARTIFACT_FILE REGISTRATIONS RESOLUTIONS
Prints one JSON object: registrations_per_s, resolutions_per_s, mlflow_version.

Each registration writes the artifact's bytes to a new file in the artifact directory (as
logging a model would) and creates a model version pointing at it; a resolution is
`MlflowClient.get_model_version_by_alias`, the in-process equivalent of resolving
`models:/name@alias`. The database is created (and migrated) before timing starts.
"""

import json
import os
import sys
import tempfile
import time
import warnings

warnings.filterwarnings("ignore")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

import logging  # noqa: E402

logging.disable(logging.WARNING)

import mlflow  # noqa: E402
from mlflow import MlflowClient  # noqa: E402


def main() -> None:
    artifact_path, n_reg, n_res = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    payload = open(artifact_path, "rb").read()
    with tempfile.TemporaryDirectory() as d:
        uri = f"sqlite:///{os.path.join(d, 'mlflow.db')}"
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        client.create_registered_model("bench")
        art = os.path.join(d, "artifacts")
        os.makedirs(art)

        def register(i: int) -> None:
            src = os.path.join(art, f"v{i}")
            os.makedirs(src)
            with open(os.path.join(src, "model.json"), "wb") as f:
                f.write(payload)
            client.create_model_version("bench", source=src)

        register(0)  # warm-up
        t = time.perf_counter()
        for i in range(1, n_reg + 1):
            register(i)
        reg_s = time.perf_counter() - t

        client.set_registered_model_alias("bench", "production", "1")
        client.get_model_version_by_alias("bench", "production")
        t = time.perf_counter()
        for _ in range(n_res):
            mv = client.get_model_version_by_alias("bench", "production")
        res_s = time.perf_counter() - t
        assert str(mv.version) == "1", mv.version

    print(
        json.dumps(
            {
                "mlflow_version": mlflow.__version__,
                "registrations": n_reg,
                "registrations_per_s": n_reg / reg_s,
                "resolutions": n_res,
                "resolutions_per_s": n_res / res_s,
            }
        )
    )


if __name__ == "__main__":
    main()
