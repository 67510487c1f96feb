// Charts from Chart.js (only the parts used are registered, to keep the
// bundle small). Animations are off: the data changes every second.
import {
  ArcElement, BarController, BarElement, CategoryScale, Chart, DoughnutController, Legend,
  LinearScale, LineController, LineElement, PointElement, Tooltip,
} from "chart.js";

Chart.register(ArcElement, BarController, BarElement, CategoryScale, DoughnutController, Legend,
  LinearScale, LineController, LineElement, PointElement, Tooltip);

const COLORS = ["#635bff", "#0c2451", "#009cde", "#0abf53", "#8c8c8c", "#d4a72c", "#cf222e", "#8250df"];
export const POINTS = 60; // seconds of history in the rate chart

export class Charts {
  private readonly rate: Chart<"line", number[], string>;
  private readonly status: Chart<"doughnut", number[], string>;
  private readonly dlq: Chart<"bar", number[], string>;

  constructor(rate: HTMLCanvasElement, status: HTMLCanvasElement, dlq: HTMLCanvasElement, gateways: string[]) {
    const common = { animation: false as const, responsive: true, maintainAspectRatio: false };
    this.rate = new Chart(rate, {
      type: "line",
      data: {
        labels: Array.from({ length: POINTS }, () => ""),
        datasets: gateways.map((g, i) => ({
          label: g, data: Array.from({ length: POINTS }, () => 0), borderColor: COLORS[i], backgroundColor: COLORS[i],
          pointRadius: 0, borderWidth: 2, tension: 0.2,
        })),
      },
      options: { ...common, scales: { y: { beginAtZero: true } }, plugins: { legend: { position: "right" } } },
    });
    this.status = new Chart(status, {
      type: "doughnut",
      data: { labels: [], datasets: [{ data: [], backgroundColor: COLORS }] },
      options: { ...common, plugins: { legend: { position: "right" } } },
    });
    this.dlq = new Chart(dlq, {
      type: "bar",
      data: { labels: [], datasets: [{ label: "records", data: [], backgroundColor: "#cf222e" }] },
      options: { ...common, indexAxis: "y", plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true } } },
    });
  }

  // pushRates adds one second: payments per second of each gateway, in the
  // order given to the constructor.
  pushRates(label: string, perGateway: number[]): void {
    const labels = this.rate.data.labels!;
    labels.push(label);
    labels.splice(0, labels.length - POINTS);
    this.rate.data.datasets.forEach((ds, i) => {
      ds.data.push(perGateway[i] ?? 0);
      ds.data.splice(0, ds.data.length - POINTS);
    });
    this.rate.update();
  }

  setStatusMix(counts: Map<string, number>): void {
    setBars(this.status, counts);
  }

  setDLQ(counts: Map<string, number>): void {
    setBars(this.dlq, counts);
  }
}

function setBars(chart: Chart<"doughnut", number[], string> | Chart<"bar", number[], string>, counts: Map<string, number>): void {
  const keys = [...counts.keys()].sort();
  chart.data.labels = keys;
  chart.data.datasets[0]!.data = keys.map((k) => counts.get(k) ?? 0);
  chart.update();
}
