// A horizontal bar list (top prefixes, top countries). Plain HTML so the numbers are text, readable and selectable.
import { formatNumber } from '../format';

export function BarList(props: { title: string; items: { label: string; value: number; marked?: string }[] }) {
  const max = Math.max(1, ...props.items.map((i) => i.value));
  return (
    <section className="bar-list" aria-label={props.title}>
      <h3>{props.title}</h3>
      {props.items.length === 0 ? (
        <p>None recorded.</p>
      ) : (
        <ul>
          {props.items.map((item) => (
            <li key={item.label}>
              <span className="bar-label">
                {item.label}
                {item.marked && <span className="badge">{item.marked}</span>}
              </span>
              <span className="bar-track" aria-hidden="true">
                <span className="bar-fill" style={{ width: `${(item.value / max) * 100}%` }} />
              </span>
              <span className="bar-value">{formatNumber(item.value)}</span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
