"""The Kubernetes manifests: rendered by kustomize (``kubectl kustomize``, see support.py),
validated against the Kubernetes JSON schemas shipped by ``kubernetes-validate`` (strict:
unknown fields are errors), then checked for what a schema cannot know: probes on paths the
apps serve, commands the CLI accepts, hardening, autoscaling, disruption budgets, the
migration Jobs, network reachability, and secrets that are referenced, never committed."""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from services.cli import build_parser
from tests.deploy.support import (
    DEPLOY,
    K8S_BASE,
    K8S_PRODUCTION,
    LIVENESS,
    PORTS,
    PROCESSES,
    READINESS,
    README,
    ROOT,
    SECRET_KEYS,
    SECRET_NAME,
    by_kind,
    container_env_names,
    known_env,
    load_yaml_documents,
    pod_spec,
    render,
    required_env,
)

#: the oldest Kubernetes release the manifests are meant for (autoscaling/v2, policy/v1 …)
KUBERNETES_VERSION = "1.29.0"
OVERLAYS = {"base": K8S_BASE, "production": K8S_PRODUCTION}
API_PROCESSES = ("projects", "indicators", "gateway")
INGRESS_NAMESPACE = {"kubernetes.io/metadata.name": "ingress-nginx"}


@pytest.fixture(params=list(OVERLAYS), scope="module")
def rendered(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return render(OVERLAYS[request.param])


def validate(document: dict[str, Any]) -> None:
    try:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        where = "/".join(str(p) for p in error.path)
        raise AssertionError(
            f"{document['kind']}/{document['metadata']['name']} {where}: {error.message}"
        ) from None


def test_base_files_are_valid_kubernetes_objects_without_kustomize() -> None:
    files = sorted(p for p in K8S_BASE.glob("*.yaml") if p.name != "kustomization.yaml")
    assert len(files) >= 9
    for path in files:
        for document in load_yaml_documents(path):
            validate(document)


def test_rendered_manifests_are_valid_kubernetes_objects(rendered: list[dict[str, Any]]) -> None:
    assert len(rendered) > 25
    for document in rendered:
        validate(document)


def test_every_resource_listed_in_a_kustomization_exists() -> None:
    import yaml

    for directory in OVERLAYS.values():
        kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
        for resource in kustomization.get("resources", []):
            assert (directory / resource).exists(), f"{directory}: {resource}"


def test_each_process_has_a_deployment_and_a_service_on_its_port(rendered: list[dict[str, Any]]) -> None:
    deployments, services = by_kind(rendered, "Deployment"), by_kind(rendered, "Service")
    assert set(deployments) == set(PROCESSES) == set(services)
    for name in PROCESSES:
        selector = services[name]["spec"]["selector"]
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items(), f"Service {name} selects no pod of its Deployment"
        assert deployments[name]["spec"]["selector"]["matchLabels"].items() <= labels.items()
        (port,) = services[name]["spec"]["ports"]
        (container,) = pod_spec(deployments[name])["containers"]
        assert port["port"] == PORTS[name]
        assert container["ports"] == [{"name": "http", "containerPort": PORTS[name], "protocol": "TCP"}]


def test_containers_run_portfolio_commands_for_their_own_process(rendered: list[dict[str, Any]]) -> None:
    parser = build_parser()
    for name, deployment in by_kind(rendered, "Deployment").items():
        (container,) = pod_spec(deployment)["containers"]
        assert "command" not in container, "the image's ENTRYPOINT (portfolio) stays"
        args = parser.parse_args(container["args"])
        assert (args.command, args.service, args.host, args.port) == ("serve", name, "0.0.0.0", PORTS[name])


def test_probes_ask_ready_and_health_on_the_container_port(rendered: list[dict[str, Any]]) -> None:
    for name, deployment in by_kind(rendered, "Deployment").items():
        (container,) = pod_spec(deployment)["containers"]
        assert container["readinessProbe"]["httpGet"] == {"path": READINESS[name], "port": "http"}
        assert container["livenessProbe"]["httpGet"] == {"path": LIVENESS[name], "port": "http"}
        assert container["startupProbe"]["httpGet"] == {"path": LIVENESS[name], "port": "http"}


@pytest.mark.parametrize("process", API_PROCESSES)
def test_probe_paths_answer_on_the_app(process: str, tmp_path: Path) -> None:
    import importlib

    from fastapi.testclient import TestClient

    from services.common.migrate import upgrade
    from tests.deploy.support import SETTINGS

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(process, url)
    settings = SETTINGS[process].model_validate(
        {"PORTFOLIO_ENV": "test", f"{process.upper()}_DATABASE_URL": url, "UPSTREAM_TIMEOUT_S": 1}
    )
    app = importlib.import_module(f"services.{process}.app").create_app(settings)
    with TestClient(app) as client:
        assert client.get(LIVENESS[process]).status_code == 200
        ready = client.get(READINESS[process])
        assert ready.status_code == 200, ready.text


def test_the_frontend_answers_its_probe_path(tmp_path: Path) -> None:
    """``portfolio serve frontend`` for real (Streamlit), asked what the probes ask."""
    import sys
    import time

    import httpx

    from tests.support import free_port

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PORTFOLIO_", "STREAMLIT_"))}
    env |= {"GATEWAY_URL": "http://127.0.0.1:9", "HOME": str(tmp_path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", "frontend", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 90
        status = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}{READINESS['frontend']}", timeout=2).status_code
            except httpx.HTTPError:
                status = None
            if status == 200:
                break
            time.sleep(0.5)
        assert status == 200, f"frontend did not answer {READINESS['frontend']}"
    finally:
        process.terminate()  # Streamlit itself (exec'd), as SIGTERM in a pod reaches it
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert LIVENESS["frontend"] == READINESS["frontend"]


def workloads(rendered: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {**by_kind(rendered, "Deployment"), **by_kind(rendered, "Job")}


def test_pods_run_non_root_read_only_without_capabilities(rendered: list[dict[str, Any]]) -> None:
    from tests.deploy.test_dockerfile import final_stage, one

    image_uid = int(one(final_stage(), "USER").split(":")[0])
    for name, workload in workloads(rendered).items():
        spec = pod_spec(workload)
        assert spec["automountServiceAccountToken"] is False, name
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] == image_uid, name
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["capabilities"] == {"drop": ["ALL"]}, name
            assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"], name


def test_every_container_has_resource_requests_and_limits(rendered: list[dict[str, Any]]) -> None:
    for name, workload in workloads(rendered).items():
        for container in pod_spec(workload)["containers"]:
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]), name
            assert {"cpu", "memory"} <= set(resources["limits"]), name


def test_every_container_runs_the_one_image(rendered: list[dict[str, Any]]) -> None:
    images = {c["image"] for w in workloads(rendered).values() for c in pod_spec(w)["containers"]}
    assert len(images) == 1, images


def test_the_production_overlay_sets_namespace_image_and_restricted_pod_security() -> None:
    documents = render(K8S_PRODUCTION)
    (namespace,) = by_kind(documents, "Namespace").values()
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for document in documents:
        if document["kind"] != "Namespace":
            assert document["metadata"]["namespace"] == namespace["metadata"]["name"], document["metadata"][
                "name"
            ]
    (image,) = {c["image"] for w in workloads(documents).values() for c in pod_spec(w)["containers"]}
    assert "/" in image and ":" in image, "a registry image with a tag"


def test_api_processes_get_time_to_drain_then_stop_the_relay(rendered: list[dict[str, Any]]) -> None:
    # uvicorn's timeout_graceful_shutdown (20 s, services/cli.py) + OutboxRelay.stop (10 s) + preStop (5 s)
    for name in API_PROCESSES:
        spec = pod_spec(by_kind(rendered, "Deployment")[name])
        assert spec["terminationGracePeriodSeconds"] >= 35, name
        (container,) = spec["containers"]
        assert container["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "5"]


def test_rolling_updates_never_drop_below_the_replica_count(rendered: list[dict[str, Any]]) -> None:
    for name, deployment in by_kind(rendered, "Deployment").items():
        assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0, name


def test_gateway_and_services_autoscale_and_the_autoscaler_owns_the_replica_count(
    rendered: list[dict[str, Any]],
) -> None:
    deployments = by_kind(rendered, "Deployment")
    autoscalers = by_kind(rendered, "HorizontalPodAutoscaler")
    assert set(autoscalers) == set(API_PROCESSES)
    for name, hpa in autoscalers.items():
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert 2 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
        assert "replicas" not in deployments[name]["spec"], f"{name}: kubectl apply would undo the autoscaler"
    assert deployments["frontend"]["spec"]["replicas"] >= 2


def test_a_disruption_budget_covers_each_deployment(rendered: list[dict[str, Any]]) -> None:
    deployments = by_kind(rendered, "Deployment")
    budgets = by_kind(rendered, "PodDisruptionBudget")
    assert set(budgets) == set(deployments)
    for name, budget in budgets.items():
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
        assert budget["spec"]["maxUnavailable"] == 1


def test_a_migration_job_per_database_runs_portfolio_migrate(rendered: list[dict[str, Any]]) -> None:
    jobs = by_kind(rendered, "Job")
    assert set(jobs) == {f"migrate-{name}" for name in API_PROCESSES}
    parser = build_parser()
    for name, job in jobs.items():
        service = name.removeprefix("migrate-")
        spec = pod_spec(job)
        assert spec["restartPolicy"] == "Never"
        (container,) = spec["containers"]
        args = parser.parse_args(container["args"])
        assert (args.command, args.service, args.revision) == ("migrate", service, "head")
        assert {e["name"] for e in container["env"]} == {f"{service.upper()}_DATABASE_URL"}
        assert job["metadata"]["labels"]["app.kubernetes.io/component"] == "migration"
        assert job["metadata"]["annotations"]["argocd.argoproj.io/hook"] == "PreSync"


def test_every_process_gets_what_production_requires_and_nothing_unknown(
    rendered: list[dict[str, Any]],
) -> None:
    config_maps = by_kind(rendered, "ConfigMap")
    (config,) = config_maps.values()
    assert config["data"]["PORTFOLIO_ENV"] == "production"
    every_known = set().union(*(known_env(p) for p in PROCESSES))
    assert set(config["data"]) <= every_known, "the config map sets variables nobody reads"
    for name, deployment in by_kind(rendered, "Deployment").items():
        (container,) = pod_spec(deployment)["containers"]
        available = container_env_names(container, config_maps)
        assert not required_env(name) - available, f"{name} would refuse to start"
        explicit = {e["name"] for e in container.get("env", [])}
        assert explicit <= known_env(name), f"{name}: {sorted(explicit - known_env(name))}"


def test_config_urls_name_the_services_and_their_ports(rendered: list[dict[str, Any]]) -> None:
    (config,) = by_kind(rendered, "ConfigMap").values()
    services = by_kind(rendered, "Service")
    for key in ("PROJECTS_URL", "INDICATORS_URL", "GATEWAY_URL"):
        name = key.removesuffix("_URL").lower()
        assert config["data"][key] == f"http://{name}:{services[name]['spec']['ports'][0]['port']}"


def test_secrets_are_referenced_by_name_never_committed(rendered: list[dict[str, Any]]) -> None:
    assert not by_kind(rendered, "Secret"), "no Secret object is committed; see deploy/README.md"
    referenced = set()
    for workload in workloads(rendered).values():
        for container in pod_spec(workload)["containers"]:
            for item in container.get("env", []):
                if "value" in item:
                    assert not re.search(r"PASSWORD|TOKEN|SECRET|_URL$", item["name"]), item["name"]
                    continue
                ref = item["valueFrom"]["secretKeyRef"]
                assert ref["name"] == SECRET_NAME
                assert ref["key"] == item["name"]
                referenced.add(ref["key"])
    assert referenced <= SECRET_KEYS
    documented = README.read_text(encoding="utf-8")
    for key in SECRET_KEYS:
        assert f"`{key}`" in documented, f"deploy/README.md does not document the secret key {key}"


def test_ingress_routes_the_gateway_and_the_frontend_only(rendered: list[dict[str, Any]]) -> None:
    backends = set()
    for ingress in by_kind(rendered, "Ingress").values():
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backends.add(path["backend"]["service"]["name"])
                assert path["backend"]["service"]["port"] == {"name": "http"}
        assert ingress["spec"]["tls"], "TLS at the ingress"
    assert backends == {"gateway", "frontend"}


# --------------------------------------------------------------------------- network policies


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A label selector (matchLabels, matchExpressions In/NotIn/Exists) against labels."""
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def peer_matches(
    peer: dict[str, Any], labels: dict[str, str] | None, namespace: dict[str, str] | None
) -> bool:
    """A NetworkPolicy peer against a pod (labels, in our namespace when namespace is None)
    or a pod of another namespace (its namespace's labels)."""
    if "ipBlock" in peer:
        return labels is None and namespace is None  # outside the cluster
    if labels is None:
        return False
    if "namespaceSelector" in peer:
        if namespace is None:
            return selects(
                peer["namespaceSelector"], {"kubernetes.io/metadata.name": "jinzhou-portfolio"}
            ) and ("podSelector" not in peer or selects(peer["podSelector"], labels))
        return selects(peer["namespaceSelector"], namespace) and selects(peer.get("podSelector", {}), labels)
    return namespace is None and selects(peer["podSelector"], labels)


def rule_allows(rules: list[dict[str, Any]], key: str, peer: tuple[Any, Any], port: int) -> bool:
    for rule in rules:
        ports = rule.get("ports")
        if ports and not any(p.get("port") == port for p in ports):
            continue
        peers = rule.get(key)
        if not peers or any(peer_matches(p, *peer) for p in peers):
            return True
    return False


def allowed(policies: list[dict[str, Any]], source: Any, target: Any, port: int) -> bool:
    """Can ``source`` open a TCP connection to ``target`` on ``port``? Each side is
    (pod labels or None, namespace labels or None): (None, None) is outside the cluster."""
    source_labels, source_namespace = source
    target_labels, target_namespace = target
    if source_labels is not None and source_namespace is None:
        egress = [
            p
            for p in policies
            if "Egress" in p["spec"]["policyTypes"] and selects(p["spec"]["podSelector"], source_labels)
        ]
        if egress and not any(rule_allows(p["spec"].get("egress", []), "to", target, port) for p in egress):
            return False
    if target_labels is not None and target_namespace is None:
        ingress = [
            p
            for p in policies
            if "Ingress" in p["spec"]["policyTypes"] and selects(p["spec"]["podSelector"], target_labels)
        ]
        if ingress and not any(
            rule_allows(p["spec"].get("ingress", []), "from", source, port) for p in ingress
        ):
            return False
    return True


def test_network_policies_let_only_the_gateway_reach_the_services(rendered: list[dict[str, Any]]) -> None:
    policies = list(by_kind(rendered, "NetworkPolicy").values())
    pods = {
        name: (w["spec"]["template"]["metadata"]["labels"], None) for name, w in workloads(rendered).items()
    }
    ingress_controller = ({"app.kubernetes.io/name": "ingress-nginx"}, INGRESS_NAMESPACE)
    other_namespace = ({"app": "anything"}, {"kubernetes.io/metadata.name": "elsewhere"})
    internet = (None, None)
    for policy in policies:
        selected = [n for n, (labels, _) in pods.items() if selects(policy["spec"]["podSelector"], labels)]
        assert selected, f"NetworkPolicy {policy['metadata']['name']} selects no pod"

    expected = {
        ("gateway", "projects"): True,
        ("gateway", "indicators"): True,
        ("frontend", "gateway"): True,
        ("frontend", "projects"): False,
        ("frontend", "indicators"): False,
        ("projects", "indicators"): False,
        ("indicators", "projects"): False,
        ("projects", "gateway"): False,
        ("gateway", "frontend"): False,
        ("migrate-projects", "projects"): False,
    }
    for (source, target), verdict in expected.items():
        assert allowed(policies, pods[source], pods[target], PORTS[target]) is verdict, (
            f"{source} -> {target}"
        )
    for name in ("gateway", "frontend"):
        assert allowed(policies, ingress_controller, pods[name], PORTS[name]), f"ingress -> {name}"
    for name in ("projects", "indicators"):
        for outsider in (ingress_controller, other_namespace):
            assert not allowed(policies, outsider, pods[name], PORTS[name]), f"{outsider} -> {name}"
    assert not allowed(policies, other_namespace, pods["gateway"], PORTS["gateway"])
    # out of the cluster: the databases for everyone that needs them, the web for webhooks only
    for name in ("gateway", "projects", "indicators", "migrate-gateway"):
        assert allowed(policies, pods[name], internet, 5432), f"{name} -> PostgreSQL"
    assert not allowed(policies, pods["frontend"], internet, 5432)
    assert allowed(policies, pods["gateway"], internet, 443)
    for name in ("projects", "indicators", "frontend"):
        assert not allowed(policies, pods[name], internet, 443), f"{name} -> the internet"


# --------------------------------------------------------------------------- nothing secret committed

OBVIOUS_SECRETS = [
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(
        r"(?i)\b[A-Z_]*(password|secret|token)\b[ \t]*[:=][ \t]*['\"]?(?!\$\{|<|\"?\$|password\b)[A-Za-z0-9+/_\-]{8,}"
    ),
    re.compile(r"(?i)(postgres(ql)?|redis)://[^:/\s]*:(?!\$\{|<)[^@\s]{4,}@"),
    re.compile(r"^\s*kind:\s*Secret\s*$", re.MULTILINE),
]


def committed_deploy_files() -> list[Path]:
    files = [ROOT / "docker-compose.yml", ROOT / ".env.example", ROOT / ".dockerignore"]
    files += [p for p in DEPLOY.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    return files


def test_no_secret_values_are_committed_in_deploy_files() -> None:
    for path in committed_deploy_files():
        text = path.read_text(encoding="utf-8")
        for pattern in OBVIOUS_SECRETS:
            match = pattern.search(text)
            assert match is None, f"{path.relative_to(ROOT)}: looks like a secret: {match.group(0)!r}"


# --------------------------------------------------------------------------- rollout order


def fake_kubectl(tmp_path: Path, fail_on: str = "") -> tuple[Path, Path]:
    log = tmp_path / "calls.log"
    script = tmp_path / "kubectl"
    script.write_text(
        "#!/usr/bin/env bash\n"
        f'echo "$*" >> "{log}"\n'
        f'if [ -n "{fail_on}" ] && [[ "$*" == *"{fail_on}"* ]]; then exit 1; fi\n'
        "exit 0\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, log


def run_rollout(script: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(DEPLOY / "k8s" / "rollout.sh"), str(K8S_PRODUCTION)],
        env={**os.environ, "KUBECTL": str(script), "NAMESPACE": "ns"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_rollout_applies_config_then_waits_for_migrations_then_rolls_deployments(tmp_path: Path) -> None:
    script, log = fake_kubectl(tmp_path)
    result = run_rollout(script)
    assert result.returncode == 0, result.stderr
    calls = log.read_text().splitlines()
    order = [
        "apply -k {} -l app.kubernetes.io/component=config",
        "-n ns get secret portfolio-secrets",
        "-n ns delete job -l app.kubernetes.io/component=migration --ignore-not-found --wait=true",
        "apply -k {} -l app.kubernetes.io/component=migration",
        "-n ns wait --for=condition=complete job -l app.kubernetes.io/component=migration --timeout=15m",
        "apply -k {}",
    ]
    assert calls[: len(order)] == [line.format(K8S_PRODUCTION) for line in order]
    assert calls[len(order) :] == [f"-n ns rollout status deployment/{d} --timeout=15m" for d in PROCESSES]


def test_rollout_stops_before_the_deployments_when_a_migration_fails(tmp_path: Path) -> None:
    script, log = fake_kubectl(tmp_path, fail_on="wait --for=condition=complete")
    result = run_rollout(script)
    assert result.returncode == 1
    assert "migration did not complete" in result.stderr
    assert f"apply -k {K8S_PRODUCTION}" not in log.read_text().splitlines()


def test_rollout_refuses_without_the_secret(tmp_path: Path) -> None:
    script, log = fake_kubectl(tmp_path, fail_on="get secret")
    result = run_rollout(script)
    assert result.returncode == 1 and "portfolio-secrets is missing" in result.stderr
    assert not any("migration" in call for call in log.read_text().splitlines())
