"""Gap ``dns_prerequisites``: DNS resolution over a peering needs DNS support and hostnames in both VPCs.

AWS: the DNS guide lists as requirements that "Both VPCs must be enabled for DNS hostnames and DNS
resolution" and that the connection is active. ModifyVpcPeeringConnectionOptions then refuses to
set ``AllowDnsResolutionFromRemoteVpc`` on a connection whose VPCs are not both ready. The code and
message of that refusal are not on the page [U]: ``OperationNotPermitted``, the code of the call's
other refusals, is assumed; the engine does not depend on it (after any refusal it reads the VPC
attributes and reports what is missing).
https://docs.aws.amazon.com/vpc/latest/peering/vpc-peering-dns.html

moto 5.2: the option is set whatever the VPCs' DNS attributes, so a connection between VPCs
without DNS hostnames would look configured while names never resolve across it.

Patch: moto's backend method is wrapped: when a request enables DNS resolution on either side and
either VPC lacks ``enableDnsSupport`` or ``enableDnsHostnames``, it raises OperationNotPermitted;
disabling the option, or changing nothing about DNS, is unchanged. Installed before
``modify_options_checks``, whose wrapper then runs first: an inactive connection or the other
owner's side is refused before the VPCs are looked at.

Turn on: ``fidelity.enable()`` (every gap) or ``fidelity.enabled(["dns_prerequisites"])`` for a
block, from ``emulation.fidelity``. docs/moto-gaps.md#dns_prerequisites.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.ec2.exceptions import OperationNotPermitted
from moto.ec2.models.vpc_peering_connections import VPCPeeringConnectionBackend

from emulation.fidelity.patching import Gap, Patcher

DNS_DOC = "https://docs.aws.amazon.com/vpc/latest/peering/vpc-peering-dns.html"


def _on(value: Any) -> bool:
    """moto keeps a modified attribute as the request's text ("true"/"false"), a new VPC's as a bool."""
    return value is True or str(value).strip().lower() == "true"


def _enables_dns(options: Any) -> bool:
    return bool(options) and _on(options.get("AllowDnsResolutionFromRemoteVpc"))


def install(patcher: Patcher) -> None:
    """Refuse enabling DNS resolution unless both VPCs have DNS support and DNS hostnames."""

    def make(previous: Callable[..., Any]) -> Callable[..., Any]:
        def modify_vpc_peering_connection_options(
            self: Any, vpc_pcx_id: str, accepter_options: Any = None, requester_options: Any = None
        ) -> Any:
            if _enables_dns(accepter_options) or _enables_dns(requester_options):
                connection = self.get_vpc_peering_connection(vpc_pcx_id)
                for vpc in (connection.vpc, connection.peer_vpc):
                    if not (_on(vpc.enable_dns_support) and _on(vpc.enable_dns_hostnames)):
                        raise OperationNotPermitted(
                            f"DNS resolution for peering {vpc_pcx_id} needs DNS hostnames and DNS resolution "
                            f"enabled in both VPCs; {vpc.id} lacks them."
                        )
            return previous(self, vpc_pcx_id, accepter_options, requester_options)

        return modify_vpc_peering_connection_options

    patcher.wrap(VPCPeeringConnectionBackend, "modify_vpc_peering_connection_options", make)


GAP = Gap("dns_prerequisites", DNS_DOC, install, __doc__ or "")
