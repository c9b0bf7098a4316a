// `/trace/{id}` is a trace; `/trace/{a}...{b}` (Jaeger UI's trace-diff URL) is a comparison.
import { useParams } from 'react-router-dom';
import ComparePage from './ComparePage';
import TracePage from './TracePage';

export default function TraceRoute() {
  const { id = '' } = useParams();
  const sep = id.indexOf('...');
  if (sep >= 0) return <ComparePage a={id.slice(0, sep)} b={id.slice(sep + 3)} />;
  return <TracePage id={id} />;
}
