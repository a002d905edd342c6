using System.Diagnostics;
using System.Globalization;
using System.Runtime.ExceptionServices;
using Convnet.Architecture;
using Convnet.Models;
using Convnet.Training;

namespace Convnet.Tuning;

/// <summary>
/// Runs a hyperparameter search: the strategy's trials, each trained on every fold (or the
/// validation split) of the objective, several side by side sharing the threads (as
/// <see cref="EnsembleTrainer"/> runs members); trial k trains with <see cref="Trial.SeedOf"/>(seed, k),
/// so its result is the same bits whatever ran beside it and on how many threads. With a
/// <see cref="Directory"/>, every finished trial is kept there and a search run again skips it.
/// <code>
/// var space = SearchSpace.Parse("""{"lr": {"min": 0.0003, "max": 0.01, "log": true}, "batch-size": [32, 64, 128]}""");
/// var tuner = new Tuner(space, new RandomSearch(trials: 12), new TrialObjective(data, folds: 3, validationSplit: 0, seed: 1)) { Directory = "search" };
/// var result = tuner.Run();
/// using var best = tuner.Refit(result.Best!);     // the best settings trained on all the data
/// best.Model.Save("best.safetensors", best.Metadata);
/// </code>
/// </summary>
public sealed class Tuner
{
    /// <summary>A search of <paramref name="space"/> by <paramref name="strategy"/>, trials scored by <paramref name="objective"/>.</summary>
    public Tuner(SearchSpace space, SearchStrategy strategy, TrialObjective objective)
    {
        ArgumentNullException.ThrowIfNull(space);
        ArgumentNullException.ThrowIfNull(strategy);
        ArgumentNullException.ThrowIfNull(objective);
        (Space, Strategy, Objective) = (space, strategy, objective);
        DefaultArchitecture = Architectures.DefaultFor(objective.Data.SampleShape).Name;
    }

    /// <summary>What is searched.</summary>
    public SearchSpace Space { get; }
    /// <summary>How trials are chosen.</summary>
    public SearchStrategy Strategy { get; }
    /// <summary>How trials are scored.</summary>
    public TrialObjective Objective { get; }

    /// <summary>Seeds the strategy's draws and every trial's seed.</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>Threads shared between the trials; 0 for one per core.</summary>
    public int Threads { get; init; }

    /// <summary>Models trained at the same time, each on its share of the threads; 0 for one per thread.</summary>
    public int Parallel { get; init; }

    /// <summary>What ranks the trials (and picks who goes on in successive halving).</summary>
    public TuneMetric Metric { get; init; } = TuneMetric.ValidationAccuracy;

    /// <summary>No trial starts once this much time has passed since <see cref="Run"/> began (those under way finish); null for no limit.</summary>
    public TimeSpan? TimeBudget { get; init; }

    /// <summary>Where finished trials are kept (see <see cref="TrialStore"/>), or null to keep them in memory only.</summary>
    public string? Directory { get; init; }

    /// <summary>The architecture of a trial whose options do not name one: by default the data's default recipe (<see cref="Architectures.DefaultFor"/>).</summary>
    public string DefaultArchitecture { get; init; }

    /// <summary>Called as a trial's first model starts, on the thread that trains it.</summary>
    public Action<Trial, Rung>? TrialStarting { get; set; }

    /// <summary>Called as each trial finishes (or is read back from <see cref="Directory"/>: then the flag is true), one call at a time.</summary>
    public Action<TrialResult, bool>? TrialFinished { get; set; }

    /// <summary>Extra callbacks for one model's Fit (trial, rung, split), e.g. a progress display.</summary>
    public Func<Trial, Rung, int, IEnumerable<Callback>>? FoldCallbacks { get; set; }

    /// <summary>The threads shared out.</summary>
    public int ThreadCount => Threads == 0 ? Environment.ProcessorCount : Threads;

    /// <summary>What a search directory records to recognise this search: space, strategy, evaluation, data, seed.</summary>
    public IReadOnlyDictionary<string, string> Fingerprint()
    {
        var fingerprint = new Dictionary<string, string>
        {
            ["format"] = "convnet tune 1",
            ["space"] = Space.Describe(),
            ["strategy"] = Strategy.Describe(),
            ["evaluation"] = Objective.Describe(),
            ["data_sha256"] = Objective.DataFingerprint(),
            ["seed"] = Seed.ToString(CultureInfo.InvariantCulture),
            ["default_architecture"] = DefaultArchitecture,
        };
        if (Strategy is SuccessiveHalving)
        {
            // It picks who goes on: another metric is another search.
            fingerprint["metric"] = MetricName(Metric);
        }
        return fingerprint;
    }

    /// <summary>"val_accuracy" or "val_loss".</summary>
    public static string MetricName(TuneMetric metric) => metric == TuneMetric.ValidationAccuracy ? "val_accuracy" : "val_loss";

    /// <summary>The settings trial <paramref name="trial"/> trains with in <paramref name="rung"/> (its seed and threads aside).</summary>
    public TrainingSettings SettingsOf(Trial trial, Rung rung)
    {
        ArgumentNullException.ThrowIfNull(trial);
        ArgumentNullException.ThrowIfNull(rung);
        var settings = Space.Settings(trial.Point, DefaultArchitecture);
        return rung.Epochs is { } epochs ? settings with { Epochs = epochs } : settings;
    }

    /// <summary>The first rung's trials, each checked: options that cannot train together are refused naming the trial.</summary>
    /// <exception cref="SearchSpaceException">A trial's options conflict (e.g. weight-decay without optimizer adamw).</exception>
    /// <exception cref="ArgumentException">The space does not suit the strategy.</exception>
    public Rung Plan()
    {
        var rung = Strategy.First(Space, Seed);
        foreach (var trial in rung.Trials)
        {
            if (TunableOptions.Conflict(SettingsOf(trial, rung)) is { } conflict)
            {
                throw new SearchSpaceException($"trial {trial.Index} ({Space.Format(trial.Point)}): {conflict}", null);
            }
        }
        return rung;
    }

    /// <summary>
    /// Runs (or continues) the search: rung after rung, each trial not yet in <see cref="Directory"/> trained
    /// on every split, and returns the results. Cancelling stops the models in training; the trials that
    /// finished are kept.
    /// </summary>
    public TuningResult Run(CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        var rung = Plan();
        var store = Directory is null ? null : TrialStore.Open(Directory, Fingerprint());
        var all = new List<TrialResult>();
        var rungs = new List<Rung>();
        bool outOfTime = false;
        int resumed = 0;
        for (Rung? current = rung; current is not null;)
        {
            rungs.Add(current);
            var (results, complete, fromStore) = RunRung(current, store, clock, cancellationToken);
            all.AddRange(results);
            resumed += fromStore;
            if (!complete)
            {
                outOfTime = true;
                break;
            }
            current = Strategy.Next(current, [.. TrialResult.Rank(results, Metric).Select(r => r.Trial)]);
        }
        var latest = all.GroupBy(r => r.Trial.Index).Select(g => g.MaxBy(r => r.Rung)!);
        return new TuningResult(TrialResult.Rank(latest, Metric), all, rungs, outOfTime, resumed, clock.Elapsed.TotalSeconds);
    }

    private bool OutOfTime(Stopwatch clock) => TimeBudget is { } budget && clock.Elapsed >= budget;

    private sealed class Pending(Trial trial, int splits)
    {
        public Trial Trial { get; } = trial;
        public FoldResult?[] Folds { get; } = new FoldResult?[splits];
        public string?[] Failures { get; } = new string?[splits];
        public int Remaining { get; set; } = splits;
        public bool Started { get; set; }
        public bool Failed => Failures.Any(f => f is not null);
    }

    /// <summary>Trains the rung's unfinished trials; returns every result of the rung, whether all its trials finished, and how many came from the store.</summary>
    private (List<TrialResult> Results, bool Complete, int FromStore) RunRung(Rung rung, TrialStore? store, Stopwatch clock, CancellationToken cancellationToken)
    {
        var names = Space.Parameters.Select(p => p.Name).ToList();
        var results = new List<TrialResult>();
        var pending = new List<Pending>();
        int fromStore = 0;
        foreach (var trial in rung.Trials)
        {
            if (store?.Load(trial, rung.Index, names) is { } done)
            {
                results.Add(done);
                fromStore++;
                TrialFinished?.Invoke(done, true);
            }
            else
            {
                pending.Add(new Pending(trial, Objective.Splits));
            }
        }
        int splits = Objective.Splits;
        var jobs = pending.SelectMany(p => Enumerable.Range(0, splits).Select(s => (Pending: p, Split: s))).ToList();
        if (jobs.Count == 0)
        {
            return (results, true, fromStore);
        }
        int threads = ThreadCount;
        int parallel = Math.Min(jobs.Count, Parallel == 0 ? threads : Parallel);
        int next = 0;
        bool skipped = false;
        var gate = new object();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);

        void Finish(Pending p)
        {
            var settings = SettingsOf(p.Trial, rung);
            ulong seed = Trial.SeedOf(Seed, p.Trial.Index);
            // The first failing fold's reason: folds start in order, so it is the same whatever the schedule.
            string? failure = p.Failures.FirstOrDefault(f => f is not null);
            var result = new TrialResult(p.Trial, rung.Index, settings.Epochs, seed, failure is null ? [.. p.Folds.Select(f => f!)] : [], failure);
            store?.Save(result, names, SettingsRecord(settings));
            results.Add(result);
            TrialFinished?.Invoke(result, false);
        }

        void Work(int share)
        {
            while (true)
            {
                Pending p;
                int split;
                lock (gate)
                {
                    if (next >= jobs.Count || stop.IsCancellationRequested)
                    {
                        return;
                    }
                    (p, split) = jobs[next++];
                    bool late = !p.Started && OutOfTime(clock);
                    if (late || p.Failed)
                    {
                        // A trial not begun before the time ran out is left for a later run; the other folds of a failed trial are not needed.
                        skipped |= late;
                        if (--p.Remaining == 0 && !late && p.Started)
                        {
                            Finish(p);
                        }
                        continue;
                    }
                    bool first = !p.Started;
                    p.Started = true;
                    if (first)
                    {
                        TrialStarting?.Invoke(p.Trial, rung);
                    }
                }
                FoldResult? fold = null;
                string? failure = null;
                try
                {
                    var settings = SettingsOf(p.Trial, rung);
                    fold = Objective.Evaluate(settings, split, Trial.SeedOf(Seed, p.Trial.Index), share, FoldCallbacks?.Invoke(p.Trial, rung, split), stop.Token);
                }
                catch (TrainingDivergedException e)
                {
                    failure = e.Message;
                }
                catch (ArchitectureSpecException e)
                {
                    failure = $"the architecture does not fit: {e.Message}";
                }
                catch (ModelTooLargeException e)
                {
                    failure = e.Message;
                }
                lock (gate)
                {
                    p.Folds[split] = fold;
                    p.Failures[split] = failure;
                    if (--p.Remaining == 0)
                    {
                        Finish(p);
                    }
                }
            }
        }

        if (parallel == 1)
        {
            Work(threads);
        }
        else
        {
            var workers = Enumerable.Range(0, parallel).Select(i =>
            {
                int share = Math.Max(1, threads / parallel + (i < threads % parallel ? 1 : 0));
                return Task.Factory.StartNew(() =>
                {
                    try
                    {
                        Work(share);
                    }
                    catch
                    {
                        stop.Cancel();
                        throw;
                    }
                }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            }).ToArray();
            try
            {
                Task.WaitAll(workers);
            }
            catch (AggregateException e)
            {
                var cause = e.InnerExceptions.FirstOrDefault(x => x is not OperationCanceledException) ?? e.InnerExceptions[0];
                ExceptionDispatchInfo.Capture(cause).Throw();
            }
        }
        cancellationToken.ThrowIfCancellationRequested();
        results.Sort((a, b) => a.Trial.Index.CompareTo(b.Trial.Index));
        return (results, !skipped, fromStore);
    }

    /// <summary>A trial's settings as its file records them (what <c>convnet train</c> would be given).</summary>
    public static IReadOnlyDictionary<string, string> SettingsRecord(TrainingSettings s)
    {
        ArgumentNullException.ThrowIfNull(s);
        static string F(float x) => x.ToString(CultureInfo.InvariantCulture);
        var record = new Dictionary<string, string>
        {
            ["arch"] = s.Architecture,
            ["epochs"] = s.Epochs.ToString(CultureInfo.InvariantCulture),
            ["batch-size"] = s.BatchSize.ToString(CultureInfo.InvariantCulture),
            ["lr"] = F(s.LearningRate),
            ["lr-schedule"] = s.Schedule.ToString(),
            ["augment"] = s.Augmentation.ToString(),
            ["optimizer"] = s.Optimizer,
            ["label-smoothing"] = F(s.LabelSmoothing),
            ["ema"] = s.EmaMomentum is { } ema ? F(ema) : "0",
        };
        void Optional(string key, float? value)
        {
            if (value is { } v)
            {
                record[key] = F(v);
            }
        }
        Optional("weight-decay", s.WeightDecay);
        Optional("momentum", s.Momentum);
        Optional("clip-norm", s.ClipNorm);
        Optional("early-stopping", s.EarlyStopping);
        Optional("reduce-lr-on-plateau", s.ReduceLrOnPlateau);
        return record;
    }

    /// <summary>
    /// Trains <paramref name="best"/>'s settings on all the objective's data (no validation split), with
    /// the trial's seed and the full budget (successive halving's last rung), as a <see cref="Trainer"/> run
    /// whose metadata also records the search (<c>tune_trial</c>, <c>tune_val_accuracy</c>, ...).
    /// </summary>
    public TrainingRun Refit(TrialResult best, IEnumerable<Callback>? callbacks = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(best);
        var full = new Rung(best.Rung, Strategy is SuccessiveHalving halving ? halving.MaxEpochs : null, [best.Trial]);
        var settings = SettingsOf(best.Trial, full) with { ValidationSplit = 0, Seed = best.Seed, Threads = Threads };
        var run = new Trainer(settings).Train(Objective.Data, callbacks, cancellationToken);
        run.Metadata["tune_trial"] = best.Trial.Index.ToString(CultureInfo.InvariantCulture);
        run.Metadata["tune_strategy"] = Strategy.Describe();
        run.Metadata["tune_evaluation"] = Objective.Describe();
        run.Metadata["tune_val_accuracy"] = best.MeanAccuracy.ToString("R", CultureInfo.InvariantCulture);
        run.Metadata["tune_val_loss"] = best.MeanLoss.ToString("R", CultureInfo.InvariantCulture);
        run.Metadata["tune_parameters"] = Space.Format(best.Trial.Point);
        return run;
    }
}

/// <summary>What a search gave.</summary>
/// <param name="Leaderboard">Each trial's furthest result (its highest rung), best first (<see cref="TrialResult.Rank"/>).</param>
/// <param name="All">Every result of every rung, rung by rung in trial order.</param>
/// <param name="Rungs">The rungs run (all of them, or up to the one the time ran out in).</param>
/// <param name="OutOfTime">Whether the time budget ended the search before the strategy had finished.</param>
/// <param name="Resumed">Results read back from the search directory rather than trained.</param>
/// <param name="Seconds">Wall-clock time of this run.</param>
public sealed record TuningResult(IReadOnlyList<TrialResult> Leaderboard, IReadOnlyList<TrialResult> All, IReadOnlyList<Rung> Rungs, bool OutOfTime, int Resumed, double Seconds)
{
    /// <summary>The best trial that trained, or null when none did.</summary>
    public TrialResult? Best => Leaderboard.FirstOrDefault(r => r.Succeeded);
}
