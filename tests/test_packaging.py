"""What can be checked of the container files and the Makefile without a Docker engine."""
import re
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_the_whole_stack_with_health_checks_and_volumes():
    spec = compose()
    services = spec["services"]
    assert set(services) == {"web", "worker", "worker-small", "beat", "redis", "mysql", "flower", "objectstore"}
    for name in ("web", "worker", "worker-small", "redis", "mysql", "flower", "objectstore"):
        assert services[name]["healthcheck"]["test"], name
    for name, service in services.items():
        assert service["restart"] == "unless-stopped", name
    assert {"mysql-data", "media", "objectstore-data"} <= set(spec["volumes"])
    assert "mysql-data:/var/lib/mysql" in services["mysql"]["volumes"]
    assert "objectstore-data:/data/objectstore" in services["objectstore"]["volumes"]
    assert "media:/data/media" in services["web"]["volumes"]
    for name in ("worker", "worker-small"):  # no shared folder: each worker container has its own cache, so it scales
        assert services[name]["volumes"] == [], name
        assert "ports" not in services[name] and "container_name" not in services[name], name
    for name in ("web", "worker", "worker-small", "beat", "flower"):
        env = services[name]["environment"]
        assert env["STORAGE_URL"] == "${STORAGE_URL:-s3://ravid/files}" and "objectstore:8333" in env["S3_ENDPOINT_URL"], name
        assert env["AWS_ACCESS_KEY_ID"] == "${S3_ACCESS_KEY:?set S3_ACCESS_KEY}", name
    assert services["worker"]["depends_on"]["objectstore"]["condition"] == "service_healthy"
    small = services["worker-small"]["environment"]
    assert small["WORKER_QUEUES"] == "small" and small["WORKER_NAME"] == "small"
    assert small["DATABASE_URL"] == services["worker"]["environment"]["DATABASE_URL"], "the same settings as the others"
    assert services["web"]["depends_on"]["mysql"]["condition"] == "service_healthy"
    assert services["worker"]["depends_on"]["redis"]["condition"] == "service_healthy"


def test_every_compose_command_is_a_role_the_entrypoint_knows():
    entrypoint = (ROOT / "scripts" / "entrypoint.sh").read_text()
    roles = set(re.findall(r"^\s+([a-z]+)\)$", entrypoint, re.M))
    for name in ("web", "worker", "beat", "flower", "objectstore"):
        command = compose()["services"][name]["command"]
        assert command[0] in roles, (name, command)
    for script in re.findall(r"scripts/[\w.-]+", entrypoint):
        assert (ROOT / script).exists(), script
    assert "ravid_project.wsgi" in entrypoint and (ROOT / "ravid_project" / "wsgi.py").exists()


def test_dockerfile_is_multi_stage_non_root_without_build_tools_at_runtime():
    text = (ROOT / "Dockerfile").read_text()
    stages = re.split(r"^FROM ", text, flags=re.M)[1:]
    assert len(stages) == 2
    runtime = stages[-1]
    assert "build-essential" not in runtime and "-dev" not in runtime
    assert re.search(r"^USER ravid$", runtime, re.M)
    assert "COPY --from=build /opt/venv /opt/venv" in runtime
    assert 'ENTRYPOINT ["/app/scripts/entrypoint.sh"]' in runtime


def test_make_help_lists_every_documented_target():
    out = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True).stdout
    for target in ["install", "run", "test", "bench", "migrate", "worker", "flower", "build", "up", "down",
                   "restart", "logs", "status", "shell", "clean", "backup", "health"]:
        assert re.search(rf"^\s+\S*{target}\S*\s", out, re.M), target


def test_docker_targets_explain_themselves_without_an_engine():
    done = subprocess.run(["make", "-s", "up"], cwd=ROOT, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"})
    if done.returncode == 0:
        return  # a Docker engine answers here
    assert "needs a running Docker engine" in done.stdout


def resolved_compose() -> str:
    """The compose file as Docker Compose sees it: variables interpolated, anchors and merge keys resolved."""
    text = (ROOT / "docker-compose.yml").read_text()
    text = re.sub(r"\$\{(\w+)(?:(:[-?])([^}]*))?\}", lambda m: m.group(3) if m.group(2) == ":-" else "example", text)
    return yaml.safe_dump(yaml.safe_load(text), sort_keys=False)


def test_compose_file_is_valid_against_the_compose_specification():
    from compose_spec import PyCompose

    compose_file = PyCompose.from_yaml(resolved_compose())
    assert set(compose_file.service_names()) == {"web", "worker", "worker-small", "beat", "redis", "mysql", "flower",
                                                 "objectstore"}
    broken = resolved_compose().replace("condition: service_healthy", "condition: when_ready", 1)
    try:
        PyCompose.from_yaml(broken)
    except ValueError as exc:
        assert "when_ready" in str(exc)
    else:
        raise AssertionError("the validator accepted an unknown depends_on condition")
