#!/usr/bin/env bash
# Roll out a release in the order the migrations need (deploy/README.md "Rollout order"):
#   0. the Secret portfolio-secrets must exist (never applied from this repository)
#   1. config: namespace, service account, config map, network policies
#   2. migration Jobs (delete the previous release's, apply, wait until complete)
#   3. everything else; wait for each Deployment's rollout
#
#   deploy/k8s/rollout.sh [OVERLAY_DIR]        (default: deploy/k8s/overlays/production)
#   NAMESPACE=jinzhou-portfolio TIMEOUT=15m deploy/k8s/rollout.sh
set -euo pipefail

overlay=${1:-"$(dirname "$0")/overlays/production"}
namespace=${NAMESPACE:-jinzhou-portfolio}
timeout=${TIMEOUT:-15m}
kubectl=${KUBECTL:-kubectl}

echo "== 1/3 config"
$kubectl apply -k "$overlay" -l app.kubernetes.io/component=config

if ! $kubectl -n "$namespace" get secret portfolio-secrets >/dev/null 2>&1; then
  echo "rollout: secret portfolio-secrets is missing in namespace $namespace; create it first (deploy/README.md \"Secrets\")" >&2
  exit 1
fi

echo "== 2/3 migrations"
$kubectl -n "$namespace" delete job -l app.kubernetes.io/component=migration --ignore-not-found --wait=true
$kubectl apply -k "$overlay" -l app.kubernetes.io/component=migration
if ! $kubectl -n "$namespace" wait --for=condition=complete job -l app.kubernetes.io/component=migration --timeout="$timeout"; then
  echo "rollout: a migration did not complete; nothing else was changed. Its log:" >&2
  $kubectl -n "$namespace" logs -l app.kubernetes.io/component=migration --tail=50 >&2 || true
  exit 1
fi

echo "== 3/3 deployments"
$kubectl apply -k "$overlay"
for deployment in projects indicators gateway frontend; do
  $kubectl -n "$namespace" rollout status "deployment/$deployment" --timeout="$timeout"
done
echo "rollout complete"
