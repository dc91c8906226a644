import { useEffect, useRef } from "react";
import uPlot from "uplot";

/** A line of viewer counts over time (uPlot: small and fast enough to redraw at every new count). */
export function ViewerChart({ series, label }: { series: [number[], number[]]; label: string }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    if (!box.current) return;
    const chart = new uPlot(
      {
        width: box.current.clientWidth || 600,
        height: 160,
        legend: { show: false },
        series: [{}, { label, stroke: "#1c7ed6", width: 2, fill: "rgba(28,126,214,0.1)" }],
        axes: [{}, { size: 60 }],
      },
      [[], []],
      box.current,
    );
    plot.current = chart;
    const resize = new ResizeObserver(([entry]) => chart.setSize({ width: entry.contentRect.width, height: 160 }));
    resize.observe(box.current);
    return () => {
      resize.disconnect();
      chart.destroy();
      plot.current = null;
    };
  }, [label]);

  useEffect(() => {
    plot.current?.setData(series);
  }, [series]);

  return <div ref={box} role="img" aria-label={label} />;
}
