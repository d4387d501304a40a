// Grafana's icons fetch their SVG files; in jsdom an empty <svg> is enough.
import { SVGProps } from 'react';

type Props = SVGProps<SVGSVGElement> & { src: string; innerRef?: unknown; cacheRequests?: boolean };

export default function InlineSVG({ src, innerRef: _innerRef, cacheRequests: _cache, ...props }: Props) {
  return <svg data-src={src} {...props} />;
}
