"""Reads the events `lineagedb export --format openlineage` wrote and emits
them again through the real `openlineage-python` client: each event becomes
the client's own `RunEvent`, `DatasetEvent` or `JobEvent` (its attrs classes
check the types and the run id), with the facets the client knows rebuilt as its facet classes, and is
written by the client's FileTransport (`append=True`, one event a line).
`lineagedb import` then reads the client's file back.

    python openlineage_reemit.py EXPORTED.jsonl REEMITTED.jsonl

Exits 1, naming the line, when the client refuses an event.
"""

from __future__ import annotations

import json
import sys

from openlineage.client.event_v2 import (
    DatasetEvent,
    InputDataset,
    Job,
    JobEvent,
    OutputDataset,
    Run,
    RunEvent,
    RunState,
)
from openlineage.client.generated.base import StaticDataset
from openlineage.client.facet_v2 import (
    dataset_type_dataset,
    dataset_version_dataset,
    datasource_dataset,
    documentation_job,
    ownership_dataset,
    symlinks_dataset,
    job_type_job,
    parent_run,
    schema_dataset,
    source_code_location_job,
)
from openlineage.client.transport.file import FileConfig, FileTransport


def dataset_facets(facets: dict) -> dict:
    out = {}
    if "version" in facets:
        out["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(
            datasetVersion=facets["version"]["datasetVersion"]
        )
    if "datasetType" in facets:
        out["datasetType"] = dataset_type_dataset.DatasetTypeDatasetFacet(
            datasetType=facets["datasetType"]["datasetType"]
        )
    if "schema" in facets:
        out["schema"] = schema_dataset.SchemaDatasetFacet(
            fields=[
                schema_dataset.SchemaDatasetFacetFields(name=f["name"], type=f.get("type"))
                for f in facets["schema"]["fields"]
            ]
        )
    if "symlinks" in facets:
        out["symlinks"] = symlinks_dataset.SymlinksDatasetFacet(
            identifiers=[
                symlinks_dataset.Identifier(namespace=i["namespace"], name=i["name"], type=i.get("type", "TABLE"))
                for i in facets["symlinks"].get("identifiers", [])
            ]
        )
    if "ownership" in facets:
        out["ownership"] = ownership_dataset.OwnershipDatasetFacet(
            owners=[ownership_dataset.Owner(name=o["name"], type=o.get("type")) for o in facets["ownership"].get("owners", [])]
        )
    if "dataSource" in facets:
        source = facets["dataSource"]
        out["dataSource"] = datasource_dataset.DatasourceDatasetFacet(
            name=source.get("name"), uri=source.get("uri")
        )
    return out


def job_facets(facets: dict) -> dict:
    out = {}
    if "documentation" in facets:
        out["documentation"] = documentation_job.DocumentationJobFacet(
            description=facets["documentation"]["description"]
        )
    if "jobType" in facets:
        j = facets["jobType"]
        out["jobType"] = job_type_job.JobTypeJobFacet(
            processingType=j["processingType"], integration=j["integration"], jobType=j.get("jobType")
        )
    if "sourceCodeLocation" in facets:
        s = facets["sourceCodeLocation"]
        out["sourceCodeLocation"] = source_code_location_job.SourceCodeLocationJobFacet(
            type=s["type"], url=s["url"], repoUrl=s.get("repoUrl"), version=s.get("version"), branch=s.get("branch")
        )
    return out


def run_facets(facets: dict) -> dict:
    out = {}
    if "parent" in facets:
        p = facets["parent"]
        out["parent"] = parent_run.ParentRunFacet(
            run=parent_run.Run(runId=p["run"]["runId"]),
            job=parent_run.Job(namespace=p["job"]["namespace"], name=p["job"]["name"]),
        )
    return out


def event(e: dict):
    if "run" not in e and "dataset" in e:
        d = e["dataset"]
        return DatasetEvent(
            eventTime=e["eventTime"],
            dataset=StaticDataset(namespace=d["namespace"], name=d["name"], facets=dataset_facets(d.get("facets", {}))),
            producer=e["producer"],
        )
    if "run" not in e:
        return JobEvent(
            eventTime=e["eventTime"],
            job=Job(namespace=e["job"]["namespace"], name=e["job"]["name"], facets=job_facets(e["job"].get("facets", {}))),
            inputs=[InputDataset(namespace=d["namespace"], name=d["name"], facets=dataset_facets(d.get("facets", {})))
                    for d in e.get("inputs", [])],
            outputs=[OutputDataset(namespace=d["namespace"], name=d["name"], facets=dataset_facets(d.get("facets", {})))
                     for d in e.get("outputs", [])],
            producer=e["producer"],
        )
    return RunEvent(
        eventType=RunState(e["eventType"]),
        eventTime=e["eventTime"],
        run=Run(runId=e["run"]["runId"], facets=run_facets(e["run"].get("facets", {}))),
        job=Job(
            namespace=e["job"]["namespace"],
            name=e["job"]["name"],
            facets=job_facets(e["job"].get("facets", {})),
        ),
        inputs=[
            InputDataset(namespace=d["namespace"], name=d["name"], facets=dataset_facets(d.get("facets", {})))
            for d in e.get("inputs", [])
        ],
        outputs=[
            OutputDataset(namespace=d["namespace"], name=d["name"], facets=dataset_facets(d.get("facets", {})))
            for d in e.get("outputs", [])
        ],
        producer=e["producer"],
    )


def main() -> int:
    exported, reemitted = sys.argv[1], sys.argv[2]
    transport = FileTransport(FileConfig(log_file_path=reemitted, append=True))
    with open(exported, encoding="utf-8") as lines:
        for n, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                transport.emit(event(json.loads(line)))
            except Exception as error:  # the client's refusal, with the line it came from
                print(f"{exported}:{n}: the openlineage-python client refused the event: {error!r}", file=sys.stderr)
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
