// node:test reporter for e2e/run.sh's closing table: one line per top-level test,
// "pass<TAB>name" or "fail<TAB>name" (used with --test-reporter-destination=<file>).
export default async function* table(source) {
  for await (const { type, data } of source) {
    if ((type === 'test:pass' || type === 'test:fail') && data.nesting === 0 && !data.skip) {
      const ok = type === 'test:pass' && !data.todo;
      yield `${ok ? 'pass' : 'fail'}\t${data.name}\t${Math.round(data.details?.duration_ms ?? 0)}\n`;
    }
  }
}
