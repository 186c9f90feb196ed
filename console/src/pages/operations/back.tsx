import { Link } from '../../router';

/** The way back from an Operations sub page to the overview. */
export function BackToOperations() {
  return (
    <p className="back">
      <Link to="/operations">← Back to the overview</Link>
    </p>
  );
}
