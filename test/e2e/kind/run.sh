#!/usr/bin/env bash
# End-to-end check on a local kind cluster, for machines with Docker (see README.md here):
# builds the image, installs the Helm chart with it, applies manifests/samples/, waits for the
# IdentityCenter to become Ready and asks its portal for /healthz and /saml/metadata.
#
# Only the Kubernetes side is checked: the cluster has no AWS (nor moto), so the Accounts and
# their IAM roles stay not Ready.
set -euo pipefail
cd "$(dirname "$0")/../../.."

CLUSTER="${KIND_CLUSTER:-idc-e2e}"
IMAGE_REPOSITORY="${IMAGE_REPOSITORY:-identity-center-operator}"
LOCAL_PORT="${LOCAL_PORT:-18080}"
TIMEOUT="${TIMEOUT:-300s}"
NAMESPACE=identity-center-operator
RELEASE=identity-center-operator
PORTAL_SERVICE=identitycenter-default-portal
CONTEXT="kind-$CLUSTER"

step() { printf '\n== %s\n' "$*"; }
fail() {
  printf 'run.sh: %s\n' "$*" >&2
  exit 1
}
# Every kubectl and helm call names the kind cluster's context, never the current one.
k() { kubectl --context "$CONTEXT" "$@"; }

for tool in docker kind kubectl helm curl; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (test/e2e/kind/README.md lists what is needed)"
done
docker info >/dev/null 2>&1 || fail "docker does not answer: is the Docker daemon running, and may this user use it?"

step "kind cluster $CLUSTER"
if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  echo "reusing the existing cluster"
else
  create=(--name "$CLUSTER" --wait 120s)
  if [ -n "${KIND_NODE_IMAGE:-}" ]; then create+=(--image "$KIND_NODE_IMAGE"); fi
  kind create cluster "${create[@]}"
fi

step "docker build"
docker build -t "$IMAGE_REPOSITORY:e2e" .
# A tag per image content, so that a re-run with a changed image rolls the pods.
id=$(docker image inspect -f '{{.Id}}' "$IMAGE_REPOSITORY:e2e")
TAG="e2e-${id#sha256:}"
TAG="${TAG:0:16}"
docker tag "$IMAGE_REPOSITORY:e2e" "$IMAGE_REPOSITORY:$TAG"

step "kind load docker-image $IMAGE_REPOSITORY:$TAG"
kind load docker-image --name "$CLUSTER" "$IMAGE_REPOSITORY:$TAG"

step "helm upgrade --install $RELEASE (namespace $NAMESPACE)"
# Helm installs a chart's crds/ only on the first install: apply them so a re-run gets changes.
k apply --server-side --force-conflicts -f charts/identity-center-operator/crds/
helm upgrade --install "$RELEASE" charts/identity-center-operator \
  --kube-context "$CONTEXT" --namespace "$NAMESPACE" --create-namespace \
  --set image.repository="$IMAGE_REPOSITORY" --set image.tag="$TAG" \
  --set image.pullPolicy=Never \
  --wait --timeout "$TIMEOUT"

step "manifests/samples/"
k apply -f manifests/samples/

step "IdentityCenter default Ready (signing key and portal Deployment)"
if ! k wait --for=condition=Ready identitycenters.identitycenter.dev/default --timeout "$TIMEOUT"; then
  k get identitycenters.identitycenter.dev default -o yaml || true
  k -n "$NAMESPACE" get pods -o wide || true
  fail "IdentityCenter default did not become Ready"
fi
k get identitycenter

step "portal: /healthz and /saml/metadata through Service $PORTAL_SERVICE"
k -n "$NAMESPACE" port-forward "svc/$PORTAL_SERVICE" "$LOCAL_PORT:80" >/dev/null &
forward=$!
trap 'kill "$forward" 2>/dev/null || true' EXIT
base="http://127.0.0.1:$LOCAL_PORT"
for _ in $(seq 30); do
  kill -0 "$forward" 2>/dev/null || fail "kubectl port-forward stopped (is port $LOCAL_PORT free? set LOCAL_PORT)"
  if curl -fsS -o /dev/null "$base/healthz" 2>/dev/null; then break; fi
  sleep 1
done
health=$(curl -fsS "$base/healthz") || fail "GET /healthz failed"
[ "$health" = "ok" ] || fail "GET /healthz answered: $health"
echo "GET /healthz: $health"
metadata=$(curl -fsS "$base/saml/metadata") || fail "GET /saml/metadata failed"
metadata_url=$(k get identitycenters.identitycenter.dev default -o jsonpath='{.status.metadataUrl}')
grep -qF "entityID=\"$metadata_url\"" <<<"$metadata" ||
  fail "GET /saml/metadata has no entityID=\"$metadata_url\": ${metadata:0:300}"
grep -q "<ds:X509Certificate>" <<<"$metadata" || fail "GET /saml/metadata has no signing certificate"
echo "GET /saml/metadata: IdP metadata for $metadata_url with a signing certificate"

step "passed"
cat <<DONE
The image ran in kind as the chart's controller and as the portal of IdentityCenter default.
Not checked here: AWS (Accounts stay not Ready: no credentials), the Ingress (no controller).

Look around:  kubectl --context $CONTEXT get identitycenter
              kubectl --context $CONTEXT -n $NAMESPACE logs deploy/$RELEASE
Clean up:     kind delete cluster --name $CLUSTER
              docker image rm $IMAGE_REPOSITORY:e2e $IMAGE_REPOSITORY:$TAG
DONE
