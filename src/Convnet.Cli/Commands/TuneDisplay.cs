using System.Diagnostics;
using System.Globalization;
using System.Text;
using Convnet.Models;
using Convnet.Tuning;

namespace Convnet.Cli.Commands;

/// <summary>
/// What <c>convnet tune</c> shows while it searches: a line per finished trial (its point and scores)
/// and, on a terminal, a live line with the models in training (trial, fold, epoch, progress) and
/// the time so far, redrawn at most ten times a second; otherwise (a log, a pipe) each model's
/// epoch lines as they end, prefixed with the trial. Trials finish on several threads: every
/// write holds one lock.
/// </summary>
internal sealed class TuneDisplay
{
    private static readonly long RedrawTicks = Stopwatch.Frequency / 10;

    private readonly TextWriter _output;
    private readonly SearchSpace _space;
    private readonly int _splits;
    private readonly IReadOnlyList<int> _trainCounts;
    private readonly int? _width;
    private readonly List<Progress> _running = [];
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly object _gate = new();
    private long _lastDraw;
    private bool _drawn;

    /// <param name="trainCounts">Each split's training images (for images/s).</param>
    /// <param name="width">The terminal's columns for the live line, or null for plain lines.</param>
    public TuneDisplay(TextWriter output, SearchSpace space, IReadOnlyList<int> trainCounts, int? width)
    {
        (_output, _space, _splits, _trainCounts, _width) = (output, space, trainCounts.Count, trainCounts, width);
    }

    /// <summary>Trials finished so far (read back or trained).</summary>
    public int Count { get; private set; }

    public void Finished(TrialResult result, bool resumed)
    {
        lock (_gate)
        {
            Count++;
            ClearLineLocked();
            string rung = result.Rung > 0 || _space.Parameters.Count == 0 ? $" [rung {result.Rung}]" : "";
            string head = $"Trial {result.Trial.Index}{rung} ({result.Epochs} epoch(s)): {_space.Format(result.Trial.Point)}";
            string tail = !result.Succeeded ? $" - failed: {result.Failure}"
                : _splits > 1
                    ? $" - val_accuracy {TrainDisplay.Metric(result.MeanAccuracy)} ± {TrainDisplay.Metric(result.StdAccuracy)} - val_loss {TrainDisplay.Metric(result.MeanLoss)} ± {TrainDisplay.Metric(result.StdLoss)}"
                    : $" - val_accuracy {TrainDisplay.Metric(result.MeanAccuracy)} - val_loss {TrainDisplay.Metric(result.MeanLoss)}";
            string when = resumed ? " (done in an earlier run)" : string.Create(CultureInfo.InvariantCulture, $" - {result.Seconds:F1}s");
            _output.WriteLine(head + tail + when);
            _output.Flush();
        }
    }

    public IEnumerable<Callback> FoldCallbacks(Trial trial, Rung rung, int split)
    {
        string rungText = rung.Index > 0 ? $" [rung {rung.Index}]" : "";
        string fold = _splits > 1 ? $" fold {split + 1}/{_splits}" : "";
        return [new Progress(this, trial.Index, split, $"Trial {trial.Index}{rungText}{fold}: ")];
    }

    private void EpochEnded(EpochLog log, int epochs, int samples, string prefix)
    {
        if (_width is not null)
        {
            return;
        }
        lock (_gate)
        {
            // Flushed: a log or a pipe (tee) sees each epoch as it ends.
            _output.WriteLine(TrainDisplay.EpochLine(log, epochs, samples, prefix));
            _output.Flush();
        }
    }

    /// <summary>Takes the live line off the terminal.</summary>
    public void ClearLine()
    {
        lock (_gate)
        {
            ClearLineLocked();
        }
    }

    private void ClearLineLocked()
    {
        if (_drawn)
        {
            _output.Write("\r\u001b[K");
            _output.Flush();
            _drawn = false;
        }
    }

    private void Redraw(bool force)
    {
        lock (_gate)
        {
            long now = Stopwatch.GetTimestamp();
            if (!force && now - _lastDraw < RedrawTicks)
            {
                return;
            }
            _lastDraw = now;
            var line = new StringBuilder();
            line.Append(CultureInfo.InvariantCulture, $"{Count} done");
            foreach (var p in _running)
            {
                line.Append(" · trial ").Append(p.Trial);
                if (_splits > 1)
                {
                    line.Append(CultureInfo.InvariantCulture, $" fold {p.Split + 1}/{_splits}");
                }
                double fraction = p.Batches == 0 ? 0 : (double)p.Batch / p.Batches;
                line.Append(CultureInfo.InvariantCulture, $" epoch {p.Epoch}/{p.Epochs} {fraction:P0}");
            }
            var elapsed = _clock.Elapsed;
            line.Append(CultureInfo.InvariantCulture, $" · {(int)elapsed.TotalMinutes}m{elapsed.Seconds:D2}s");
            string text = line.ToString();
            int width = (_width ?? 80) - 1;
            if (text.Length > width)
            {
                text = text[..Math.Max(0, width - 1)] + "…";
            }
            _output.Write("\r" + text + "\u001b[K");
            _output.Flush();
            _drawn = true;
        }
    }

    /// <summary>One model's progress: it writes its numbers on every step (no allocation) and asks for a redraw at most ten times a second.</summary>
    private sealed class Progress(TuneDisplay display, int trial, int split, string prefix) : Callback
    {
        private long _last;

        public int Trial { get; } = trial;
        public int Split { get; } = split;
        public int Epoch { get; private set; }
        public int Epochs { get; private set; }
        public int Batch { get; private set; }
        public int Batches { get; private set; }

        public override void OnTrainBegin()
        {
            lock (display._gate)
            {
                display._running.Add(this);
            }
        }

        public override void OnEpochEnd(EpochLog log) => display.EpochEnded(log, Epochs, display._trainCounts[Split], prefix);

        public override void OnBatchEnd(in BatchLog log)
        {
            (Epoch, Epochs, Batch, Batches) = (log.Epoch, log.Epochs, log.Batch, log.Batches);
            if (display._width is null)
            {
                return;
            }
            long now = Stopwatch.GetTimestamp();
            if (now - _last >= RedrawTicks)
            {
                _last = now;
                display.Redraw(force: false);
            }
        }

        public override void OnTrainEnd()
        {
            lock (display._gate)
            {
                display._running.Remove(this);
            }
        }
    }
}
