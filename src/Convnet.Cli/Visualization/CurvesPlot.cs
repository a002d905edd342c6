using System.Globalization;
using Convnet.Models;
using ScottPlot;
using SkiaSharp;

namespace Convnet.Cli.Visualization;

/// <summary>Training curves: loss and accuracy per epoch, training and validation, side by side; the learning rate on a right-hand axis when it changes.</summary>
internal static class CurvesPlot
{
    public const int Width = 1200;
    public const int Height = 520;
    private const int TitleHeight = 44;

    private static readonly ScottPlot.Color TrainColor = ScottPlot.Color.FromHex("#1f77b4");
    private static readonly ScottPlot.Color ValidationColor = ScottPlot.Color.FromHex("#ff7f0e");
    private static readonly ScottPlot.Color RateColor = ScottPlot.Color.FromHex("#6b6b6b");

    public static byte[] Render(IReadOnlyList<EpochLog> epochs, string title)
    {
        if (epochs.Count == 0)
        {
            throw new ArgumentException("no epochs to plot", nameof(epochs));
        }
        Drawing.ConfigureScottPlot();
        var rates = epochs.Select(e => e.LearningRate).Where(double.IsFinite).Distinct().ToArray();
        bool rateChanges = rates.Length > 1;
        string rateNote = rates.Length == 1 ? $", learning rate {rates[0].ToString("G4", CultureInfo.InvariantCulture)}" : "";

        var loss = Panel(epochs, "Loss", "loss (cross-entropy)", e => e.Loss, e => e.ValidationLoss, rateChanges, percent: false);
        var accuracy = Panel(epochs, "Accuracy", "accuracy", e => e.Accuracy, e => e.ValidationAccuracy, rateChanges, percent: true);

        using var surface = Drawing.CreateSurface(Width, Height);
        var canvas = surface.Canvas;
        using (var titleFont = Drawing.Font(20, bold: true))
        using (var ink = Drawing.Fill(Drawing.Ink))
        {
            string text = $"{title} — {epochs.Count} epoch{(epochs.Count == 1 ? "" : "s")}{rateNote}";
            canvas.DrawText(Drawing.Fit(text, titleFont, Width - 32), Width / 2f, 30, SKTextAlign.Center, titleFont, ink);
        }
        // Plot.Render clears the canvas it is given: draw each panel on its own surface.
        int panelWidth = Width / 2, panelHeight = Height - TitleHeight;
        foreach (var (panel, x) in new[] { (loss, 0), (accuracy, panelWidth) })
        {
            using var panelSurface = Drawing.CreateSurface(panelWidth, panelHeight);
            panel.Render(panelSurface.Canvas, new PixelRect(0, panelWidth, panelHeight, 0));
            using var image = panelSurface.Snapshot();
            canvas.DrawImage(image, x, TitleHeight, new SKSamplingOptions(SKFilterMode.Nearest), null);
        }
        return Drawing.EncodePng(surface);
    }

    private static Plot Panel(IReadOnlyList<EpochLog> epochs, string title, string yLabel, Func<EpochLog, double> train, Func<EpochLog, double> validation, bool rateChanges, bool percent)
    {
        var plot = new Plot();
        plot.Title(title, 16);
        plot.XLabel("epoch", 14);
        plot.YLabel(yLabel, 14);
        Series(plot, epochs, train, "training", TrainColor, LinePattern.Solid, MarkerShape.FilledCircle);
        Series(plot, epochs, validation, "validation", ValidationColor, LinePattern.Dashed, MarkerShape.FilledSquare);
        if (rateChanges)
        {
            var rate = Series(plot, epochs, e => e.LearningRate, "learning rate (right axis)", RateColor, LinePattern.Dotted, MarkerShape.OpenTriangleUp);
            if (rate is not null)
            {
                rate.ConnectStyle = ConnectStyle.StepHorizontal;
                rate.Axes.YAxis = plot.Axes.Right;
                plot.Axes.Right.Label.Text = "learning rate";
                plot.Axes.Right.Label.FontSize = 14;
            }
        }
        if (percent)
        {
            plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
            {
                LabelFormatter = v => (100 * v).ToString("0.#", CultureInfo.InvariantCulture) + "%",
            };
        }
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        int step = Math.Max(1, (int)Math.Ceiling(epochs.Count / 12.0));
        foreach (var e in epochs)
        {
            if ((e.Epoch - epochs[0].Epoch) % step == 0)
            {
                ticks.AddMajor(e.Epoch, e.Epoch.ToString(CultureInfo.InvariantCulture));
            }
        }
        plot.Axes.Bottom.TickGenerator = ticks;
        double first = epochs[0].Epoch, last = epochs[^1].Epoch;
        double pad = Math.Max(0.25, (last - first) * 0.05);
        plot.Axes.AutoScale();
        plot.Axes.SetLimitsX(first - pad, last + pad);
        // Loss is never negative and accuracy stays in [0, 1]: autoscaling one point would say otherwise.
        var limits = plot.Axes.GetLimits(plot.Axes.Bottom, plot.Axes.Left);
        double bottom = Math.Max(0, limits.Bottom), top = percent ? Math.Min(1.02, limits.Top) : limits.Top;
        if (top > bottom)
        {
            plot.Axes.SetLimitsY(bottom, top, plot.Axes.Left);
        }
        plot.ShowLegend(Edge.Bottom);
        plot.Legend.FontSize = 14;
        plot.Axes.Bottom.TickLabelStyle.FontSize = 13;
        plot.Axes.Left.TickLabelStyle.FontSize = 13;
        plot.Axes.Right.TickLabelStyle.FontSize = 13;
        return plot;
    }

    private static ScottPlot.Plottables.Scatter? Series(Plot plot, IReadOnlyList<EpochLog> epochs, Func<EpochLog, double> value, string label, ScottPlot.Color color, LinePattern pattern, MarkerShape marker)
    {
        var points = epochs.Where(e => double.IsFinite(value(e))).ToArray();
        if (points.Length == 0)
        {
            return null;
        }
        var scatter = plot.Add.Scatter(points.Select(e => (double)e.Epoch).ToArray(), points.Select(value).ToArray(), color);
        scatter.LegendText = label;
        scatter.LineWidth = 2.5f;
        scatter.LinePattern = pattern;
        scatter.MarkerShape = marker;
        scatter.MarkerSize = 8;
        return scatter;
    }
}
