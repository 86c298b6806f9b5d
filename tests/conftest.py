import pandas as pd
import pytest


@pytest.fixture
def write(tmp_path):
    """Write text, bytes or a DataFrame (as Parquet) to tmp_path/name and return the path."""

    def write(name: str, content) -> str:
        path = tmp_path / name
        if isinstance(content, pd.DataFrame):
            content.to_parquet(path, index=False)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        return str(path)

    return write
