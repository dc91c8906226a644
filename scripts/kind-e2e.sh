#!/usr/bin/env bash
# End-to-end on kind: cluster, images, chart (with the simulator), one LiveMonitor to Live, events
# arriving, then delete and check the capture Pod is gone. Needs docker, kind, kubectl and helm.
#   scripts/kind-e2e.sh            # create/reuse the cluster, run, keep the cluster
#   KEEP_CLUSTER=0 scripts/kind-e2e.sh  # delete the cluster at the end
set -euo pipefail
cd "$(dirname "$0")/.."

CLUSTER=${CLUSTER:-scis}
NAMESPACE=${NAMESPACE:-scis}
TAG=${TAG:-dev}
TIMEOUT=${TIMEOUT:-300s}
KEEP_CLUSTER=${KEEP_CLUSTER:-1}

for tool in docker kind kubectl helm; do
  command -v "$tool" >/dev/null || { echo "kind-e2e: missing $tool" >&2; exit 2; }
done
docker info >/dev/null 2>&1 || { echo "kind-e2e: no Docker engine answers" >&2; exit 2; }

log() { printf '\n== %s\n' "$*"; }

if ! kind get clusters | grep -qx "$CLUSTER"; then
  log "creating kind cluster $CLUSTER"
  kind create cluster --name "$CLUSTER" --config k8s/kind/cluster.yaml --wait 120s
fi
kubectl config use-context "kind-$CLUSTER" >/dev/null

log "building images"
docker build -q -f images/Dockerfile --target python -t "scis:$TAG" .
docker build -q -f images/Dockerfile --target analyser -t "scis-analyser:$TAG" .
docker build -q -f images/Dockerfile --target frontend -t "scis-frontend:$TAG" .
docker build -q -f images/Dockerfile --target operator -t "scis-operator:$TAG" .
for image in scis scis-analyser scis-frontend scis-operator; do
  kind load docker-image --name "$CLUSTER" "$image:$TAG"
done

log "installing the chart"
helm upgrade --install scis charts/scis -n "$NAMESPACE" --create-namespace \
  -f charts/scis/ci/06-kind-simulator-values.yaml --set image.tag="$TAG" --wait --timeout 10m

log "starting a capture against the simulator"
kubectl -n "$NAMESPACE" apply -f k8s/samples/livemonitor-simulator.yaml
kubectl -n "$NAMESPACE" wait --for=jsonpath='{.status.phase}'=Live lm/e2e-simulated --timeout="$TIMEOUT"
kubectl -n "$NAMESPACE" wait --for=condition=Ready lm/e2e-simulated --timeout="$TIMEOUT"

log "waiting for events"
for _ in $(seq 60); do
  events=$(kubectl -n "$NAMESPACE" get lm e2e-simulated -o jsonpath='{.status.eventsCaptured}')
  [ "${events:-0}" -gt 0 ] && break
  sleep 2
done
[ "${events:-0}" -gt 0 ] || { echo "kind-e2e: no events captured" >&2; exit 1; }
echo "events captured: $events"

log "helm test"
helm test scis -n "$NAMESPACE" --timeout 5m

log "deleting the LiveMonitor: the capture must seal and go"
kubectl -n "$NAMESPACE" delete lm e2e-simulated --wait --timeout="$TIMEOUT"
remaining=$(kubectl -n "$NAMESPACE" get pods -l scis.io/livemonitor=e2e-simulated -o name | wc -l)
[ "$remaining" -eq 0 ] || { echo "kind-e2e: $remaining capture pod(s) left" >&2; exit 1; }

if [ "$KEEP_CLUSTER" = "0" ]; then
  kind delete cluster --name "$CLUSTER"
fi
log "kind-e2e passed"
