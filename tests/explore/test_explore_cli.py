"""``minicnn explore`` on the command line: bad checkpoints are one clear line at start, the
server binds to loopback unless told otherwise (and then warns), a busy port is explained."""

import numpy as np
import pytest

from minicnn.cli import main
from minicnn.explore.cli import serve


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("minicnn: error: "), err
    return err[0]


def test_a_missing_checkpoint_is_one_clear_line(capsys, tmp_path):
    assert main(["explore", str(tmp_path / "nothing.npz"), "--no-browser"]) == 1
    assert "does not exist" in one_error_line(capsys)


def test_a_file_that_is_not_a_checkpoint_is_one_clear_line(capsys, tmp_path):
    path = tmp_path / "notes.npz"
    path.write_text("not a checkpoint")
    assert main(["explore", str(path), "--no-browser"]) == 1
    assert "is not a minicnn checkpoint" in one_error_line(capsys)


def test_a_model_minicnn_does_not_define_is_one_clear_line(capsys, tmp_path):
    import minicnn
    from minicnn import nn
    path = tmp_path / "mine.npz"
    minicnn.save(path, nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()))
    assert main(["explore", str(path), "--no-browser"]) == 1
    line = one_error_line(capsys)
    assert "holds a Sequential" in line and "CNN" in line


def test_a_bad_second_checkpoint_is_refused_too(capsys, checkpoint, tmp_path):
    assert main(["explore", str(checkpoint), str(tmp_path / "b.npz"), "--no-browser"]) == 1
    assert "b.npz does not exist" in one_error_line(capsys)


def test_help_names_the_options(capsys):
    assert main(["explore", "--help"]) == 0
    out = capsys.readouterr().out
    for flag in ("--port", "--host", "--no-browser", "CHECKPOINT_B"):
        assert flag in out


def test_it_serves_on_loopback_by_default_and_prints_the_address(monkeypatch, capsys,
                                                                  checkpoint):
    from werkzeug.serving import BaseWSGIServer
    seen = {}

    def stop_at_once(self):
        seen["address"] = self.server_address
        raise KeyboardInterrupt

    monkeypatch.setattr(BaseWSGIServer, "serve_forever", stop_at_once)
    monkeypatch.setattr("webbrowser.open", lambda url: pytest.fail("--no-browser opened one"))
    assert main(["explore", str(checkpoint), "--no-browser", "--port", "0"]) == 0
    out = capsys.readouterr().out
    assert seen["address"][0] == "127.0.0.1"
    assert f"http://127.0.0.1:{seen['address'][1]}/" in out
    assert "warning" not in out


def test_another_interface_is_a_warning_and_other_hosts_are_then_allowed(checkpoint):
    lines = []
    server, url = serve([checkpoint], host="0.0.0.0", port=0, log=lines.append,
                        warm_up=False)
    try:
        assert any(line.startswith("warning: listening on 0.0.0.0") for line in lines)
        client = server.app.test_client()
        assert client.get("/api/info", headers={"Host": "192.0.2.7:8000"}).status_code == 200
    finally:
        server.server_close()


def test_a_busy_port_is_explained(checkpoint):
    first, _ = serve([checkpoint], port=0, log=lambda line: None, warm_up=False)
    try:
        with pytest.raises(ValueError, match="--port 0 for any free one"):
            serve([checkpoint], port=first.server_port, log=lambda line: None, warm_up=False)
    finally:
        first.server_close()


def test_the_gap_model_opens_too(gap_checkpoint):
    from minicnn.explore.model import ExploredModel
    explored = ExploredModel(gap_checkpoint)
    assert explored.model_class == "GAPCNN" and explored.epoch == 7
    result = explored.predict(np.zeros((28, 28), dtype=np.uint8))
    assert [layer["name"] for layer in result["layers"]][-1] == "classifier.3"
