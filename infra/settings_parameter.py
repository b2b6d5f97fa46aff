"""The pipeline settings, kept where the trigger reads them: one SSM parameter.

Only the trigger needs the whole settings: it copies them into each execution's input (``RunConfig.settings``), and
every step reads them from there. They cannot travel in the functions' environments: Lambda caps a function's
environment at 4 KB, keys and values together, and a long ``system_prompt`` alone exceeds that
(https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html). The places considered:

- the trigger's environment: the same 4 KB, shared with the resource names it needs; a 3,500-character prompt does
  not fit;
- the state machine definition (1 MB): the trigger could not read the settings before starting a run, so the run's
  input, which every step's contract names, would have to be completed by an extra state;
- an SSM parameter (chosen): up to 8 KB in the Advanced tier. Intelligent-Tiering keeps it Standard, which costs
  nothing, while the settings fit 4 KB, and makes it Advanced only when they do not (botocore ``ssm`` PutParameter
  ``Tier``). The trigger reads it at every drop (one GetParameter per run), so the first drop after a deploy already
  runs with the deployed settings. Synthesis refuses settings that do not fit, naming the largest ones.

The local harness (``tuner run --local``) creates the parameter in moto from this template, like the other resources.
"""

from __future__ import annotations

import json

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra.config import CONTEXT_KEY, SettingsError
from lambdas.settings import PipelineSettings

# "Advanced parameters have a value limit of 8 KB" (botocore ssm PutParameterRequest.Value); counted in UTF-8 bytes,
# the larger of the two readings, so that no setting that synthesizes is refused at deploy.
MAX_SETTINGS_BYTES = 8 * 1024


class SettingsParameter(Construct):
    def __init__(self, scope: Construct, id_: str, *, settings: PipelineSettings) -> None:
        super().__init__(scope, id_)
        value = settings.model_dump_json()
        size = len(value.encode())
        if size > MAX_SETTINGS_BYTES:
            raise SettingsError(
                f"the {CONTEXT_KEY} settings take {size:,} bytes as JSON, and the SSM parameter the trigger reads "
                f"holds at most {MAX_SETTINGS_BYTES:,}; the longest are {_largest_settings(value)}"
            )
        self.parameter = ssm.StringParameter(
            self,
            "Parameter",
            parameter_name=f"/{Stack.of(self).stack_name}/pipeline-settings",
            string_value=value,
            tier=ssm.ParameterTier.INTELLIGENT_TIERING,
            description="Fine-tuning pipeline settings (cdk.json fine_tuning); the trigger copies them into each run",
        )

    @property
    def name(self) -> str:
        return str(self.parameter.parameter_name)

    def grant_read(self, role: iam.IGrantable) -> None:
        """GetParameter only (``StringParameter.grant_read`` also grants history and listing, which nothing reads)."""
        role.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(actions=["ssm:GetParameter"], resources=[self.parameter.parameter_arn])
        )


def _largest_settings(value: str, count: int = 3) -> str:
    sizes = {key: len(json.dumps(item, ensure_ascii=False).encode()) for key, item in json.loads(value).items()}
    largest = sorted(sizes, key=lambda key: sizes[key], reverse=True)[:count]
    return ", ".join(f"{CONTEXT_KEY}.{key} ({sizes[key]:,} bytes)" for key in largest)
