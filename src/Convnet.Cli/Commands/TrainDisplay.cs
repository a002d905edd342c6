using System.Diagnostics;
using System.Globalization;
using Convnet.Models;
using Spectre.Console;

namespace Convnet.Cli.Commands;

/// <summary>
/// What <c>convnet train</c> shows while a model trains, as a callback: on a terminal each finished
/// epoch's line wrapped to the terminal's width, and when the run has the terminal alone a live
/// progress line (redrawn at most ten times a second); otherwise one line per epoch. The library's batch hook allocates nothing; this
/// display allocates only when it redraws.
/// </summary>
internal sealed class TrainDisplay : Callback
{
    private const int BarMax = 20;
    private static readonly long RedrawTicks = Stopwatch.Frequency / 10;

    private readonly TextWriter _output;
    private readonly int _epochs;
    private readonly int _samples;
    private readonly string _prefix;
    private readonly int? _width;
    private readonly bool _live;
    private long _lastDraw;
    private bool _drawn;

    /// <param name="samples">Training images per epoch (for images/s).</param>
    /// <param name="prefix">Before each epoch line, e.g. "Member 2/3: ".</param>
    /// <param name="width">The terminal's columns the epoch lines are wrapped to, or null for plain lines.</param>
    /// <param name="live">Whether to draw the live progress line (a terminal that is this run's alone).</param>
    public TrainDisplay(TextWriter output, int epochs, int samples, string prefix, int? width, bool live)
    {
        (_output, _epochs, _samples, _prefix, _width, _live) = (output, epochs, samples, prefix, width, live && width is not null);
    }

    /// <summary>The terminal's width when <paramref name="output"/> is the console on an interactive terminal; else null.</summary>
    public static int? TerminalWidth(TextWriter output) =>
        ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive ? TerminalWidth() : null;

    /// <summary>
    /// For a terminal of <paramref name="width"/> columns (null when not a terminal): a live line when
    /// the run has the terminal <paramref name="alone"/> and wrapped epoch lines; else plain lines.
    /// </summary>
    public static TrainDisplay For(TextWriter output, int? width, int epochs, int samples, string prefix = "", bool alone = true) =>
        new(output, epochs, samples, prefix, width, live: alone);

    private static int TerminalWidth()
    {
        try
        {
            return Console.WindowWidth > 0 ? Console.WindowWidth : 80;
        }
        catch (IOException)
        {
            return 80;
        }
    }

    /// <summary>The last epoch that finished (0 before the first).</summary>
    public int FinishedEpochs { get; private set; }

    public override void OnBatchEnd(in BatchLog log)
    {
        if (!_live || _width is not { } width)
        {
            return;
        }
        long now = Stopwatch.GetTimestamp();
        if (log.Batch != log.Batches && now - _lastDraw < RedrawTicks)
        {
            return;
        }
        _lastDraw = now;
        _output.Write("\r" + ProgressLine(log, width - 1) + "\u001b[K");
        _output.Flush();
        _drawn = true;
    }

    public override void OnEpochEnd(EpochLog log)
    {
        FinishedEpochs = log.Epoch;
        string line = EpochLine(log, _epochs, _samples, _prefix);
        if (_width is not { } width)
        {
            // Flushed: a log or a pipe (tee) sees each epoch as it ends.
            _output.WriteLine(line);
            _output.Flush();
            return;
        }
        ClearLine();
        // One write: members training side by side share a synchronised writer, and a wrapped line stays together.
        _output.Write(string.Join(Environment.NewLine, Wrap(line, width - 1)) + Environment.NewLine);
        _output.Flush();
    }

    /// <summary>Takes the live line off the terminal (before a message, or when interrupted).</summary>
    public void ClearLine()
    {
        if (_drawn)
        {
            _output.Write("\r\u001b[K");
            _output.Flush();
            _drawn = false;
        }
    }

    /// <summary>A loss or accuracy: 4 decimals, or 4 significant digits with an exponent when it is that large ("1.235E+30"), or NaN.</summary>
    public static string Metric(double x) => double.IsFinite(x) && Math.Abs(x) < 1e5
        ? x.ToString("F4", CultureInfo.CurrentCulture)
        : x.ToString("G4", CultureInfo.CurrentCulture);

    /// <summary>The line of a finished epoch, as Keras prints it.</summary>
    public static string EpochLine(EpochLog e, int epochs, int samples, string prefix = "")
    {
        string val = double.IsNaN(e.ValidationLoss) ? "" : $" - val_loss: {Metric(e.ValidationLoss)} - val_accuracy: {Metric(e.ValidationAccuracy)}";
        return $"{prefix}Epoch {e.Epoch}/{epochs} - {e.Seconds:F1}s - {samples / e.Seconds:N0} images/s - loss: {Metric(e.Loss)} - accuracy: {Metric(e.Accuracy)}{val} - lr: {e.LearningRate:G3}";
    }

    /// <summary>
    /// <paramref name="line"/> in lines of at most <paramref name="width"/> characters, broken at its
    /// " - " separators, the continuations indented by two spaces; a single field longer than the
    /// width stays whole (nothing is cut).
    /// </summary>
    public static IReadOnlyList<string> Wrap(string line, int width)
    {
        if (line.Length <= width)
        {
            return [line];
        }
        const string separator = " - ", indent = "  ";
        var lines = new List<string>();
        string current = "";
        foreach (string field in line.Split(separator))
        {
            if (current.Length == 0)
            {
                current = (lines.Count == 0 ? "" : indent) + field;
            }
            else if (current.Length + separator.Length + field.Length <= width)
            {
                current += separator + field;
            }
            else
            {
                lines.Add(current);
                current = indent + field;
            }
        }
        lines.Add(current);
        return lines;
    }

    /// <summary>The live line of an epoch in progress, at most <paramref name="width"/> characters: the bar shrinks first, then the rate and ETA go.</summary>
    public static string ProgressLine(in BatchLog p, int width)
    {
        double rate = p.Seen / Math.Max(p.ElapsedSeconds, 1e-9);
        double eta = (p.Total - p.Seen) / Math.Max(rate, 1e-9);
        string head = $"Epoch {p.Epoch}/{p.Epochs}";
        string scores = $"loss {Metric(p.Loss)}  acc {Metric(p.Accuracy)}";
        string speed = $"{rate:N0} img/s  ETA {TimeSpan.FromSeconds(Math.Min(eta, 359999)):h\\:mm\\:ss}";
        string percent = $"{100L * p.Seen / p.Total,3}%";
        string text = $"{head} {percent}  {scores}  {speed}";
        if (text.Length > width)
        {
            text = $"{head} {percent}  {scores}";
        }
        int bar = Math.Min(BarMax, width - text.Length - 3);
        if (bar < 4)
        {
            return text;
        }
        int filled = (int)((long)bar * p.Seen / p.Total);
        return $"{head} [{new string('#', filled)}{new string('.', bar - filled)}]{text[head.Length..]}";
    }
}
