import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Category(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CATEGORY_UNSPECIFIED: _ClassVar[Category]
    CATEGORY_SECURITY: _ClassVar[Category]
    CATEGORY_CODE_QUALITY: _ClassVar[Category]
    CATEGORY_ACCESSIBILITY: _ClassVar[Category]
    CATEGORY_PERFORMANCE: _ClassVar[Category]

class SessionStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SESSION_STATUS_UNSPECIFIED: _ClassVar[SessionStatus]
    SESSION_STATUS_INITIALIZING: _ClassVar[SessionStatus]
    SESSION_STATUS_RUNNING: _ClassVar[SessionStatus]
    SESSION_STATUS_COMPLETED: _ClassVar[SessionStatus]
    SESSION_STATUS_PARTIAL: _ClassVar[SessionStatus]
    SESSION_STATUS_FAILED: _ClassVar[SessionStatus]
    SESSION_STATUS_CANCELLED: _ClassVar[SessionStatus]

class ToolStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TOOL_STATUS_UNSPECIFIED: _ClassVar[ToolStatus]
    TOOL_STATUS_PENDING: _ClassVar[ToolStatus]
    TOOL_STATUS_RUNNING: _ClassVar[ToolStatus]
    TOOL_STATUS_COMPLETED: _ClassVar[ToolStatus]
    TOOL_STATUS_FAILED: _ClassVar[ToolStatus]
    TOOL_STATUS_SKIPPED: _ClassVar[ToolStatus]

class Outcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OUTCOME_UNSPECIFIED: _ClassVar[Outcome]
    OUTCOME_CLEAN: _ClassVar[Outcome]
    OUTCOME_FINDINGS: _ClassVar[Outcome]
    OUTCOME_TOOL_ERROR: _ClassVar[Outcome]
    OUTCOME_TIMED_OUT: _ClassVar[Outcome]
    OUTCOME_SKIPPED: _ClassVar[Outcome]

class Severity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEVERITY_UNSPECIFIED: _ClassVar[Severity]
    SEVERITY_CRITICAL: _ClassVar[Severity]
    SEVERITY_HIGH: _ClassVar[Severity]
    SEVERITY_MEDIUM: _ClassVar[Severity]
    SEVERITY_LOW: _ClassVar[Severity]
    SEVERITY_INFO: _ClassVar[Severity]

class View(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VIEW_UNSPECIFIED: _ClassVar[View]
    VIEW_FULL: _ClassVar[View]
    VIEW_PROGRESS: _ClassVar[View]
    VIEW_INCREMENTAL: _ClassVar[View]

class LedgerKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LEDGER_KIND_UNSPECIFIED: _ClassVar[LedgerKind]
    LEDGER_KIND_GRANT: _ClassVar[LedgerKind]
    LEDGER_KIND_RESERVE: _ClassVar[LedgerKind]
    LEDGER_KIND_REFUND: _ClassVar[LedgerKind]
CATEGORY_UNSPECIFIED: Category
CATEGORY_SECURITY: Category
CATEGORY_CODE_QUALITY: Category
CATEGORY_ACCESSIBILITY: Category
CATEGORY_PERFORMANCE: Category
SESSION_STATUS_UNSPECIFIED: SessionStatus
SESSION_STATUS_INITIALIZING: SessionStatus
SESSION_STATUS_RUNNING: SessionStatus
SESSION_STATUS_COMPLETED: SessionStatus
SESSION_STATUS_PARTIAL: SessionStatus
SESSION_STATUS_FAILED: SessionStatus
SESSION_STATUS_CANCELLED: SessionStatus
TOOL_STATUS_UNSPECIFIED: ToolStatus
TOOL_STATUS_PENDING: ToolStatus
TOOL_STATUS_RUNNING: ToolStatus
TOOL_STATUS_COMPLETED: ToolStatus
TOOL_STATUS_FAILED: ToolStatus
TOOL_STATUS_SKIPPED: ToolStatus
OUTCOME_UNSPECIFIED: Outcome
OUTCOME_CLEAN: Outcome
OUTCOME_FINDINGS: Outcome
OUTCOME_TOOL_ERROR: Outcome
OUTCOME_TIMED_OUT: Outcome
OUTCOME_SKIPPED: Outcome
SEVERITY_UNSPECIFIED: Severity
SEVERITY_CRITICAL: Severity
SEVERITY_HIGH: Severity
SEVERITY_MEDIUM: Severity
SEVERITY_LOW: Severity
SEVERITY_INFO: Severity
VIEW_UNSPECIFIED: View
VIEW_FULL: View
VIEW_PROGRESS: View
VIEW_INCREMENTAL: View
LEDGER_KIND_UNSPECIFIED: LedgerKind
LEDGER_KIND_GRANT: LedgerKind
LEDGER_KIND_RESERVE: LedgerKind
LEDGER_KIND_REFUND: LedgerKind

class Target(_message.Message):
    __slots__ = ("url", "urls", "directory", "upload")
    URL_FIELD_NUMBER: _ClassVar[int]
    URLS_FIELD_NUMBER: _ClassVar[int]
    DIRECTORY_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_FIELD_NUMBER: _ClassVar[int]
    url: str
    urls: _containers.RepeatedScalarFieldContainer[str]
    directory: str
    upload: str
    def __init__(self, url: _Optional[str] = ..., urls: _Optional[_Iterable[str]] = ..., directory: _Optional[str] = ..., upload: _Optional[str] = ...) -> None: ...

class StartSessionRequest(_message.Message):
    __slots__ = ("target", "categories", "tools", "exclude_tools", "enable_intelligence", "timeout_ms", "max_concurrent", "config", "baseline")
    TARGET_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_TOOLS_FIELD_NUMBER: _ClassVar[int]
    ENABLE_INTELLIGENCE_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENT_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    BASELINE_FIELD_NUMBER: _ClassVar[int]
    target: Target
    categories: _containers.RepeatedScalarFieldContainer[Category]
    tools: _containers.RepeatedScalarFieldContainer[str]
    exclude_tools: _containers.RepeatedScalarFieldContainer[str]
    enable_intelligence: bool
    timeout_ms: int
    max_concurrent: int
    config: str
    baseline: str
    def __init__(self, target: _Optional[_Union[Target, _Mapping]] = ..., categories: _Optional[_Iterable[_Union[Category, str]]] = ..., tools: _Optional[_Iterable[str]] = ..., exclude_tools: _Optional[_Iterable[str]] = ..., enable_intelligence: bool = ..., timeout_ms: _Optional[int] = ..., max_concurrent: _Optional[int] = ..., config: _Optional[str] = ..., baseline: _Optional[str] = ...) -> None: ...

class StartSessionResponse(_message.Message):
    __slots__ = ("session_id", "scan_id", "session")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SCAN_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    scan_id: str
    session: Session
    def __init__(self, session_id: _Optional[str] = ..., scan_id: _Optional[str] = ..., session: _Optional[_Union[Session, _Mapping]] = ...) -> None: ...

class GetSessionRequest(_message.Message):
    __slots__ = ("session_id", "view", "after_seq", "since")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    view: View
    after_seq: int
    since: _timestamp_pb2.Timestamp
    def __init__(self, session_id: _Optional[str] = ..., view: _Optional[_Union[View, str]] = ..., after_seq: _Optional[int] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetSessionResponse(_message.Message):
    __slots__ = ("session", "new_reports")
    SESSION_FIELD_NUMBER: _ClassVar[int]
    NEW_REPORTS_FIELD_NUMBER: _ClassVar[int]
    session: Session
    new_reports: _containers.RepeatedCompositeFieldContainer[ToolReport]
    def __init__(self, session: _Optional[_Union[Session, _Mapping]] = ..., new_reports: _Optional[_Iterable[_Union[ToolReport, _Mapping]]] = ...) -> None: ...

class WatchSessionRequest(_message.Message):
    __slots__ = ("session_id", "after_seq")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    after_seq: int
    def __init__(self, session_id: _Optional[str] = ..., after_seq: _Optional[int] = ...) -> None: ...

class WatchSessionResponse(_message.Message):
    __slots__ = ("seq", "progress", "snapshot", "session_started", "session_running", "tool_started", "tool_finished", "session_finished", "heartbeat", "cancel_requested", "analysis", "narrative", "time")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    SESSION_STARTED_FIELD_NUMBER: _ClassVar[int]
    SESSION_RUNNING_FIELD_NUMBER: _ClassVar[int]
    TOOL_STARTED_FIELD_NUMBER: _ClassVar[int]
    TOOL_FINISHED_FIELD_NUMBER: _ClassVar[int]
    SESSION_FINISHED_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    CANCEL_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    ANALYSIS_FIELD_NUMBER: _ClassVar[int]
    NARRATIVE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    seq: int
    progress: Progress
    snapshot: Session
    session_started: SessionStarted
    session_running: SessionRunning
    tool_started: ToolStarted
    tool_finished: ToolReport
    session_finished: SessionFinished
    heartbeat: Heartbeat
    cancel_requested: CancelRequested
    analysis: Intelligence
    narrative: Narrative
    time: _timestamp_pb2.Timestamp
    def __init__(self, seq: _Optional[int] = ..., progress: _Optional[_Union[Progress, _Mapping]] = ..., snapshot: _Optional[_Union[Session, _Mapping]] = ..., session_started: _Optional[_Union[SessionStarted, _Mapping]] = ..., session_running: _Optional[_Union[SessionRunning, _Mapping]] = ..., tool_started: _Optional[_Union[ToolStarted, _Mapping]] = ..., tool_finished: _Optional[_Union[ToolReport, _Mapping]] = ..., session_finished: _Optional[_Union[SessionFinished, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ..., cancel_requested: _Optional[_Union[CancelRequested, _Mapping]] = ..., analysis: _Optional[_Union[Intelligence, _Mapping]] = ..., narrative: _Optional[_Union[Narrative, _Mapping]] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SessionStarted(_message.Message):
    __slots__ = ("tools",)
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    tools: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, tools: _Optional[_Iterable[str]] = ...) -> None: ...

class SessionRunning(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ToolStarted(_message.Message):
    __slots__ = ("tool_name",)
    TOOL_NAME_FIELD_NUMBER: _ClassVar[int]
    tool_name: str
    def __init__(self, tool_name: _Optional[str] = ...) -> None: ...

class SessionFinished(_message.Message):
    __slots__ = ("status", "summary", "error", "refund", "narrative_follows")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    REFUND_FIELD_NUMBER: _ClassVar[int]
    NARRATIVE_FOLLOWS_FIELD_NUMBER: _ClassVar[int]
    status: SessionStatus
    summary: Summary
    error: str
    refund: Refund
    narrative_follows: bool
    def __init__(self, status: _Optional[_Union[SessionStatus, str]] = ..., summary: _Optional[_Union[Summary, _Mapping]] = ..., error: _Optional[str] = ..., refund: _Optional[_Union[Refund, _Mapping]] = ..., narrative_follows: bool = ...) -> None: ...

class CancelRequested(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Progress(_message.Message):
    __slots__ = ("total", "completed", "failed", "skipped", "running", "pending", "percentage")
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    PENDING_FIELD_NUMBER: _ClassVar[int]
    PERCENTAGE_FIELD_NUMBER: _ClassVar[int]
    total: int
    completed: int
    failed: int
    skipped: int
    running: int
    pending: int
    percentage: int
    def __init__(self, total: _Optional[int] = ..., completed: _Optional[int] = ..., failed: _Optional[int] = ..., skipped: _Optional[int] = ..., running: _Optional[int] = ..., pending: _Optional[int] = ..., percentage: _Optional[int] = ...) -> None: ...

class Session(_message.Message):
    __slots__ = ("session_id", "scan_id", "user_id", "status", "progress", "tool_reports", "summary", "refund", "error", "created_at", "completed_at", "last_updated", "cursor", "target", "intelligence")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SCAN_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    TOOL_REPORTS_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    REFUND_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_UPDATED_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    INTELLIGENCE_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    scan_id: str
    user_id: str
    status: SessionStatus
    progress: Progress
    tool_reports: _containers.RepeatedCompositeFieldContainer[ToolReport]
    summary: Summary
    refund: Refund
    error: str
    created_at: _timestamp_pb2.Timestamp
    completed_at: _timestamp_pb2.Timestamp
    last_updated: _timestamp_pb2.Timestamp
    cursor: int
    target: Target
    intelligence: Intelligence
    def __init__(self, session_id: _Optional[str] = ..., scan_id: _Optional[str] = ..., user_id: _Optional[str] = ..., status: _Optional[_Union[SessionStatus, str]] = ..., progress: _Optional[_Union[Progress, _Mapping]] = ..., tool_reports: _Optional[_Iterable[_Union[ToolReport, _Mapping]]] = ..., summary: _Optional[_Union[Summary, _Mapping]] = ..., refund: _Optional[_Union[Refund, _Mapping]] = ..., error: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., completed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_updated: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., cursor: _Optional[int] = ..., target: _Optional[_Union[Target, _Mapping]] = ..., intelligence: _Optional[_Union[Intelligence, _Mapping]] = ...) -> None: ...

class Intelligence(_message.Message):
    __slots__ = ("risk_score", "grade", "summary", "findings", "issue_count", "corroborated", "issues", "priorities", "hotspots", "by_owasp", "narrative")
    class ByOwaspEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    RISK_SCORE_FIELD_NUMBER: _ClassVar[int]
    GRADE_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    ISSUE_COUNT_FIELD_NUMBER: _ClassVar[int]
    CORROBORATED_FIELD_NUMBER: _ClassVar[int]
    ISSUES_FIELD_NUMBER: _ClassVar[int]
    PRIORITIES_FIELD_NUMBER: _ClassVar[int]
    HOTSPOTS_FIELD_NUMBER: _ClassVar[int]
    BY_OWASP_FIELD_NUMBER: _ClassVar[int]
    NARRATIVE_FIELD_NUMBER: _ClassVar[int]
    risk_score: int
    grade: str
    summary: str
    findings: int
    issue_count: int
    corroborated: int
    issues: _containers.RepeatedCompositeFieldContainer[Issue]
    priorities: _containers.RepeatedCompositeFieldContainer[Priority]
    hotspots: _containers.RepeatedCompositeFieldContainer[Hotspot]
    by_owasp: _containers.ScalarMap[str, int]
    narrative: Narrative
    def __init__(self, risk_score: _Optional[int] = ..., grade: _Optional[str] = ..., summary: _Optional[str] = ..., findings: _Optional[int] = ..., issue_count: _Optional[int] = ..., corroborated: _Optional[int] = ..., issues: _Optional[_Iterable[_Union[Issue, _Mapping]]] = ..., priorities: _Optional[_Iterable[_Union[Priority, _Mapping]]] = ..., hotspots: _Optional[_Iterable[_Union[Hotspot, _Mapping]]] = ..., by_owasp: _Optional[_Mapping[str, int]] = ..., narrative: _Optional[_Union[Narrative, _Mapping]] = ...) -> None: ...

class Narrative(_message.Message):
    __slots__ = ("text", "model", "error")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    text: str
    model: str
    error: str
    def __init__(self, text: _Optional[str] = ..., model: _Optional[str] = ..., error: _Optional[str] = ...) -> None: ...

class Issue(_message.Message):
    __slots__ = ("id", "title", "severity", "confidence", "cwe", "owasp", "location", "exposure", "seen_by", "fingerprints", "score", "category")
    ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    CWE_FIELD_NUMBER: _ClassVar[int]
    OWASP_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    EXPOSURE_FIELD_NUMBER: _ClassVar[int]
    SEEN_BY_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINTS_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    id: str
    title: str
    severity: Severity
    confidence: int
    cwe: int
    owasp: str
    location: str
    exposure: str
    seen_by: _containers.RepeatedCompositeFieldContainer[SeenBy]
    fingerprints: _containers.RepeatedScalarFieldContainer[str]
    score: int
    category: Category
    def __init__(self, id: _Optional[str] = ..., title: _Optional[str] = ..., severity: _Optional[_Union[Severity, str]] = ..., confidence: _Optional[int] = ..., cwe: _Optional[int] = ..., owasp: _Optional[str] = ..., location: _Optional[str] = ..., exposure: _Optional[str] = ..., seen_by: _Optional[_Iterable[_Union[SeenBy, _Mapping]]] = ..., fingerprints: _Optional[_Iterable[str]] = ..., score: _Optional[int] = ..., category: _Optional[_Union[Category, str]] = ...) -> None: ...

class SeenBy(_message.Message):
    __slots__ = ("tool", "rule_id", "severity")
    TOOL_FIELD_NUMBER: _ClassVar[int]
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    tool: str
    rule_id: str
    severity: Severity
    def __init__(self, tool: _Optional[str] = ..., rule_id: _Optional[str] = ..., severity: _Optional[_Union[Severity, str]] = ...) -> None: ...

class Priority(_message.Message):
    __slots__ = ("rank", "issue", "title", "severity", "what_to_do", "why", "location")
    RANK_FIELD_NUMBER: _ClassVar[int]
    ISSUE_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    WHAT_TO_DO_FIELD_NUMBER: _ClassVar[int]
    WHY_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    rank: int
    issue: str
    title: str
    severity: Severity
    what_to_do: str
    why: str
    location: str
    def __init__(self, rank: _Optional[int] = ..., issue: _Optional[str] = ..., title: _Optional[str] = ..., severity: _Optional[_Union[Severity, str]] = ..., what_to_do: _Optional[str] = ..., why: _Optional[str] = ..., location: _Optional[str] = ...) -> None: ...

class Hotspot(_message.Message):
    __slots__ = ("location", "issues", "worst", "score")
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    ISSUES_FIELD_NUMBER: _ClassVar[int]
    WORST_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    location: str
    issues: int
    worst: Severity
    score: int
    def __init__(self, location: _Optional[str] = ..., issues: _Optional[int] = ..., worst: _Optional[_Union[Severity, str]] = ..., score: _Optional[int] = ...) -> None: ...

class ToolReport(_message.Message):
    __slots__ = ("tool_name", "category", "status", "outcome", "duration_ms", "findings_count", "findings", "started_at", "completed_at", "error", "skip_reason", "partial", "metrics", "omitted", "left_out", "suppressed", "rules", "scanner")
    class LeftOutEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    TOOL_NAME_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    FINDINGS_COUNT_FIELD_NUMBER: _ClassVar[int]
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    SKIP_REASON_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    OMITTED_FIELD_NUMBER: _ClassVar[int]
    LEFT_OUT_FIELD_NUMBER: _ClassVar[int]
    SUPPRESSED_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    SCANNER_FIELD_NUMBER: _ClassVar[int]
    tool_name: str
    category: Category
    status: ToolStatus
    outcome: Outcome
    duration_ms: int
    findings_count: int
    findings: _containers.RepeatedCompositeFieldContainer[Finding]
    started_at: _timestamp_pb2.Timestamp
    completed_at: _timestamp_pb2.Timestamp
    error: str
    skip_reason: str
    partial: bool
    metrics: _containers.RepeatedCompositeFieldContainer[Metric]
    omitted: Omitted
    left_out: _containers.ScalarMap[str, int]
    suppressed: int
    rules: _containers.RepeatedCompositeFieldContainer[RuleInfo]
    scanner: Scanner
    def __init__(self, tool_name: _Optional[str] = ..., category: _Optional[_Union[Category, str]] = ..., status: _Optional[_Union[ToolStatus, str]] = ..., outcome: _Optional[_Union[Outcome, str]] = ..., duration_ms: _Optional[int] = ..., findings_count: _Optional[int] = ..., findings: _Optional[_Iterable[_Union[Finding, _Mapping]]] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., completed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., error: _Optional[str] = ..., skip_reason: _Optional[str] = ..., partial: bool = ..., metrics: _Optional[_Iterable[_Union[Metric, _Mapping]]] = ..., omitted: _Optional[_Union[Omitted, _Mapping]] = ..., left_out: _Optional[_Mapping[str, int]] = ..., suppressed: _Optional[int] = ..., rules: _Optional[_Iterable[_Union[RuleInfo, _Mapping]]] = ..., scanner: _Optional[_Union[Scanner, _Mapping]] = ...) -> None: ...

class RuleInfo(_message.Message):
    __slots__ = ("id", "name", "description", "help")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    HELP_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    description: str
    help: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., help: _Optional[str] = ...) -> None: ...

class Scanner(_message.Message):
    __slots__ = ("name", "version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class Omitted(_message.Message):
    __slots__ = ("count", "critical", "high", "medium", "low", "info")
    COUNT_FIELD_NUMBER: _ClassVar[int]
    CRITICAL_FIELD_NUMBER: _ClassVar[int]
    HIGH_FIELD_NUMBER: _ClassVar[int]
    MEDIUM_FIELD_NUMBER: _ClassVar[int]
    LOW_FIELD_NUMBER: _ClassVar[int]
    INFO_FIELD_NUMBER: _ClassVar[int]
    count: int
    critical: int
    high: int
    medium: int
    low: int
    info: int
    def __init__(self, count: _Optional[int] = ..., critical: _Optional[int] = ..., high: _Optional[int] = ..., medium: _Optional[int] = ..., low: _Optional[int] = ..., info: _Optional[int] = ...) -> None: ...

class Metric(_message.Message):
    __slots__ = ("name", "value", "url")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: str
    url: str
    def __init__(self, name: _Optional[str] = ..., value: _Optional[str] = ..., url: _Optional[str] = ...) -> None: ...

class Finding(_message.Message):
    __slots__ = ("rule_id", "severity", "original_level", "message", "path", "line", "column", "url", "fingerprint", "help_uri", "cwe", "baseline_state", "suppression")
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    ORIGINAL_LEVEL_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    HELP_URI_FIELD_NUMBER: _ClassVar[int]
    CWE_FIELD_NUMBER: _ClassVar[int]
    BASELINE_STATE_FIELD_NUMBER: _ClassVar[int]
    SUPPRESSION_FIELD_NUMBER: _ClassVar[int]
    rule_id: str
    severity: Severity
    original_level: str
    message: str
    path: str
    line: int
    column: int
    url: str
    fingerprint: str
    help_uri: str
    cwe: int
    baseline_state: str
    suppression: Suppression
    def __init__(self, rule_id: _Optional[str] = ..., severity: _Optional[_Union[Severity, str]] = ..., original_level: _Optional[str] = ..., message: _Optional[str] = ..., path: _Optional[str] = ..., line: _Optional[int] = ..., column: _Optional[int] = ..., url: _Optional[str] = ..., fingerprint: _Optional[str] = ..., help_uri: _Optional[str] = ..., cwe: _Optional[int] = ..., baseline_state: _Optional[str] = ..., suppression: _Optional[_Union[Suppression, _Mapping]] = ...) -> None: ...

class Suppression(_message.Message):
    __slots__ = ("kind", "reason", "expires", "expired")
    KIND_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_FIELD_NUMBER: _ClassVar[int]
    EXPIRED_FIELD_NUMBER: _ClassVar[int]
    kind: str
    reason: str
    expires: str
    expired: bool
    def __init__(self, kind: _Optional[str] = ..., reason: _Optional[str] = ..., expires: _Optional[str] = ..., expired: bool = ...) -> None: ...

class Summary(_message.Message):
    __slots__ = ("total_findings", "critical", "high", "medium", "low", "info", "by_category", "tools_run", "tools_skipped", "tools_failed", "suppressed", "new_by_severity")
    class ByCategoryEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    TOTAL_FINDINGS_FIELD_NUMBER: _ClassVar[int]
    CRITICAL_FIELD_NUMBER: _ClassVar[int]
    HIGH_FIELD_NUMBER: _ClassVar[int]
    MEDIUM_FIELD_NUMBER: _ClassVar[int]
    LOW_FIELD_NUMBER: _ClassVar[int]
    INFO_FIELD_NUMBER: _ClassVar[int]
    BY_CATEGORY_FIELD_NUMBER: _ClassVar[int]
    TOOLS_RUN_FIELD_NUMBER: _ClassVar[int]
    TOOLS_SKIPPED_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FAILED_FIELD_NUMBER: _ClassVar[int]
    SUPPRESSED_FIELD_NUMBER: _ClassVar[int]
    NEW_BY_SEVERITY_FIELD_NUMBER: _ClassVar[int]
    total_findings: int
    critical: int
    high: int
    medium: int
    low: int
    info: int
    by_category: _containers.ScalarMap[str, int]
    tools_run: int
    tools_skipped: int
    tools_failed: int
    suppressed: int
    new_by_severity: SeverityCounts
    def __init__(self, total_findings: _Optional[int] = ..., critical: _Optional[int] = ..., high: _Optional[int] = ..., medium: _Optional[int] = ..., low: _Optional[int] = ..., info: _Optional[int] = ..., by_category: _Optional[_Mapping[str, int]] = ..., tools_run: _Optional[int] = ..., tools_skipped: _Optional[int] = ..., tools_failed: _Optional[int] = ..., suppressed: _Optional[int] = ..., new_by_severity: _Optional[_Union[SeverityCounts, _Mapping]] = ...) -> None: ...

class SeverityCounts(_message.Message):
    __slots__ = ("critical", "high", "medium", "low", "info")
    CRITICAL_FIELD_NUMBER: _ClassVar[int]
    HIGH_FIELD_NUMBER: _ClassVar[int]
    MEDIUM_FIELD_NUMBER: _ClassVar[int]
    LOW_FIELD_NUMBER: _ClassVar[int]
    INFO_FIELD_NUMBER: _ClassVar[int]
    critical: int
    high: int
    medium: int
    low: int
    info: int
    def __init__(self, critical: _Optional[int] = ..., high: _Optional[int] = ..., medium: _Optional[int] = ..., low: _Optional[int] = ..., info: _Optional[int] = ...) -> None: ...

class Refund(_message.Message):
    __slots__ = ("refunded_credits", "tools_refunded", "new_balance", "analysis_refunded")
    REFUNDED_CREDITS_FIELD_NUMBER: _ClassVar[int]
    TOOLS_REFUNDED_FIELD_NUMBER: _ClassVar[int]
    NEW_BALANCE_FIELD_NUMBER: _ClassVar[int]
    ANALYSIS_REFUNDED_FIELD_NUMBER: _ClassVar[int]
    refunded_credits: int
    tools_refunded: _containers.RepeatedScalarFieldContainer[str]
    new_balance: int
    analysis_refunded: bool
    def __init__(self, refunded_credits: _Optional[int] = ..., tools_refunded: _Optional[_Iterable[str]] = ..., new_balance: _Optional[int] = ..., analysis_refunded: bool = ...) -> None: ...

class ListSessionsRequest(_message.Message):
    __slots__ = ("limit", "before")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    BEFORE_FIELD_NUMBER: _ClassVar[int]
    limit: int
    before: str
    def __init__(self, limit: _Optional[int] = ..., before: _Optional[str] = ...) -> None: ...

class ListSessionsResponse(_message.Message):
    __slots__ = ("sessions", "total", "next_before")
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    NEXT_BEFORE_FIELD_NUMBER: _ClassVar[int]
    sessions: _containers.RepeatedCompositeFieldContainer[Session]
    total: int
    next_before: str
    def __init__(self, sessions: _Optional[_Iterable[_Union[Session, _Mapping]]] = ..., total: _Optional[int] = ..., next_before: _Optional[str] = ...) -> None: ...

class CancelSessionRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class CancelSessionResponse(_message.Message):
    __slots__ = ("session",)
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: Session
    def __init__(self, session: _Optional[_Union[Session, _Mapping]] = ...) -> None: ...

class ListToolsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListToolsResponse(_message.Message):
    __slots__ = ("tools", "analysis_cost")
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    ANALYSIS_COST_FIELD_NUMBER: _ClassVar[int]
    tools: _containers.RepeatedCompositeFieldContainer[Tool]
    analysis_cost: int
    def __init__(self, tools: _Optional[_Iterable[_Union[Tool, _Mapping]]] = ..., analysis_cost: _Optional[int] = ...) -> None: ...

class Tool(_message.Message):
    __slots__ = ("id", "category", "targets", "available", "unavailable_reason", "install_hint", "cost", "summary", "circuit_state", "circuit_failures", "circuit_retry_at", "ecosystem", "average_duration_ms", "runs", "version")
    ID_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    UNAVAILABLE_REASON_FIELD_NUMBER: _ClassVar[int]
    INSTALL_HINT_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    CIRCUIT_STATE_FIELD_NUMBER: _ClassVar[int]
    CIRCUIT_FAILURES_FIELD_NUMBER: _ClassVar[int]
    CIRCUIT_RETRY_AT_FIELD_NUMBER: _ClassVar[int]
    ECOSYSTEM_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    RUNS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    category: Category
    targets: _containers.RepeatedScalarFieldContainer[str]
    available: bool
    unavailable_reason: str
    install_hint: str
    cost: int
    summary: str
    circuit_state: str
    circuit_failures: int
    circuit_retry_at: _timestamp_pb2.Timestamp
    ecosystem: str
    average_duration_ms: int
    runs: int
    version: str
    def __init__(self, id: _Optional[str] = ..., category: _Optional[_Union[Category, str]] = ..., targets: _Optional[_Iterable[str]] = ..., available: bool = ..., unavailable_reason: _Optional[str] = ..., install_hint: _Optional[str] = ..., cost: _Optional[int] = ..., summary: _Optional[str] = ..., circuit_state: _Optional[str] = ..., circuit_failures: _Optional[int] = ..., circuit_retry_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ecosystem: _Optional[str] = ..., average_duration_ms: _Optional[int] = ..., runs: _Optional[int] = ..., version: _Optional[str] = ...) -> None: ...

class GetAccountRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetAccountResponse(_message.Message):
    __slots__ = ("user_id", "name", "balance", "ledger")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    LEDGER_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    name: str
    balance: int
    ledger: _containers.RepeatedCompositeFieldContainer[LedgerEntry]
    def __init__(self, user_id: _Optional[str] = ..., name: _Optional[str] = ..., balance: _Optional[int] = ..., ledger: _Optional[_Iterable[_Union[LedgerEntry, _Mapping]]] = ...) -> None: ...

class UploadArchiveRequest(_message.Message):
    __slots__ = ("chunk",)
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    chunk: bytes
    def __init__(self, chunk: _Optional[bytes] = ...) -> None: ...

class UploadArchiveResponse(_message.Message):
    __slots__ = ("upload_id", "digest", "bytes", "files", "unpacked_bytes")
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    UNPACKED_BYTES_FIELD_NUMBER: _ClassVar[int]
    upload_id: str
    digest: str
    bytes: int
    files: int
    unpacked_bytes: int
    def __init__(self, upload_id: _Optional[str] = ..., digest: _Optional[str] = ..., bytes: _Optional[int] = ..., files: _Optional[int] = ..., unpacked_bytes: _Optional[int] = ...) -> None: ...

class LedgerEntry(_message.Message):
    __slots__ = ("id", "at", "kind", "amount", "balance_after", "session_id", "note")
    ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    BALANCE_AFTER_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    id: int
    at: _timestamp_pb2.Timestamp
    kind: LedgerKind
    amount: int
    balance_after: int
    session_id: str
    note: str
    def __init__(self, id: _Optional[int] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., kind: _Optional[_Union[LedgerKind, str]] = ..., amount: _Optional[int] = ..., balance_after: _Optional[int] = ..., session_id: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...
