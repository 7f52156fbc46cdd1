"""`helm test`: GET /v1/models, then one real chat completion through the Service.

The pod finds the Service through the variables Kubernetes injects for it
(`<FULLNAME>_SERVICE_HOST/_PORT`), so the test works without cluster DNS.
"""

from __future__ import annotations

from ..config.shape import ValuesRef
from ..helm.chart import HelmChart
from ..helm.holes import If
from ..helm.holes import Expr, Tpl
from .platform import arbitrary_uid
from .security import HELPER_UID, fixed_uid, helper_security_context

SCRIPT = """\
set -eu
url="http://${ENGINE_HOST}:${ENGINE_PORT}"
echo "GET $url/v1/models"
models=$(timeout 60 wget -q -O - "$url/v1/models")
echo "$models"
echo "$models" | grep -q "\\"$MODEL\\"" || { echo "served model $MODEL not listed"; exit 1; }
body="{\\"model\\":\\"$MODEL\\",\\"messages\\":[{\\"role\\":\\"user\\",\\"content\\":\\"Say hello.\\"}],\\"max_tokens\\":$MAX_TOKENS}"
echo "POST $url/v1/chat/completions"
reply=$(timeout 600 wget -q -O - --header "Content-Type: application/json" --post-data "$body" "$url/v1/chat/completions")
echo "$reply"
echo "$reply" | grep -q '"choices"' || { echo "no choices in the completion"; exit 1; }
echo "helm test passed"
"""


# With an API key: every request carries `Authorization: Bearer $API_KEY` (read from the Secret).
AUTH_SCRIPT = SCRIPT.replace('wget -q -O - "$url', 'wget -q -O - --header "Authorization: Bearer $API_KEY" "$url').replace(
    'wget -q -O - --header "Content-Type', 'wget -q -O - --header "Authorization: Bearer $API_KEY" --header "Content-Type')


def add_test_hook(chart: HelmChart, served_model_name: Expr, api_key_secret: ValuesRef | None = None) -> None:
    """`api_key_secret`: the engine's API key Secret, when it has one; the test then sends the key."""
    v = chart.v
    arbitrary = arbitrary_uid(chart)
    prefix = f'(include "{chart.info.name}.serviceEnvPrefix" .)'
    chart.add_object(
        "tests/test-openai-api.yaml", "v1", "Pod", chart.name("test-api"), "test",
        {"spec": {
            "restartPolicy": "Never",
            "securityContext": {"runAsNonRoot": True, **fixed_uid(HELPER_UID, arbitrary),
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{
                "name": "openai-api",
                "image": Tpl(f'include "{chart.info.name}.image" {v.helper_image.go}'),
                "imagePullPolicy": v.helper_image.pull_policy,
                "command": ["sh", "-c", SCRIPT if api_key_secret is None else
                            If(api_key_secret.name.truthy(), [AUTH_SCRIPT], [SCRIPT])],
                "env": [
                    {"name": "ENGINE_HOST", "value": Tpl(f'printf "$(%s_SERVICE_HOST)" {prefix}')},
                    {"name": "ENGINE_PORT", "value": Tpl(f'printf "$(%s_SERVICE_PORT)" {prefix}')},
                    {"name": "MODEL", "value": served_model_name},
                    {"name": "MAX_TOKENS", "value": v.tests.max_tokens.as_str()},
                    *([] if api_key_secret is None else [If(api_key_secret.name.truthy(), [{
                        "name": "API_KEY", "valueFrom": {"secretKeyRef": {"name": api_key_secret.name,
                                                                          "key": api_key_secret.key}}}])]),
                ],
                "securityContext": helper_security_context(arbitrary),
            }],
        }},
        when=v.tests.enabled.truthy(),
        # A passing test pod is removed; a failing one stays for `kubectl logs`.
        annotations={"helm.sh/hook": "test",
                     "helm.sh/hook-delete-policy": "before-hook-creation,hook-succeeded"},
    )
