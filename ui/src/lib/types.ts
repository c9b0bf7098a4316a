// The Jaeger UI JSON the query API returns (model/src/ui_json.rs on the server side).

export interface KeyValue {
  key: string;
  type?: string;
  value: unknown;
}

export interface Reference {
  refType: 'CHILD_OF' | 'FOLLOWS_FROM' | string;
  traceID: string;
  spanID: string;
}

export interface Log {
  timestamp: number;
  fields: KeyValue[];
}

export interface Process {
  serviceName: string;
  tags?: KeyValue[];
}

export interface RawSpan {
  traceID: string;
  spanID: string;
  flags?: number;
  operationName: string;
  references?: Reference[];
  startTime: number;
  duration: number;
  tags?: KeyValue[];
  logs?: Log[];
  processID?: string;
  process?: Process;
  warnings?: string[] | null;
}

export interface RawTrace {
  traceID: string;
  spans: RawSpan[];
  processes: Record<string, Process>;
  warnings?: string[] | null;
}

export interface Envelope<T> {
  data: T;
  total?: number;
  errors?: { code: number; msg: string }[] | null;
}

export interface DependencyLink {
  parent: string;
  child: string;
  callCount: number;
}

export interface Operation {
  name: string;
  spanKind: string;
}

/** Jaeger's SPM API (`/api/metrics/*`): protobuf JSON of `metrics.MetricFamily`. */
export interface MetricFamily {
  name: string;
  type?: string;
  help?: string;
  metrics: {
    labels: { name: string; value: string }[];
    metricPoints: { gaugeValue?: { doubleValue?: number | string }; timestamp: string | number }[];
  }[];
}
