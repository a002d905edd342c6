using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using Convnet.Architecture;
using Convnet.Cli.Visualization;
using Convnet.Data;
using Convnet.IO;
using Convnet.Saving;
using Convnet.Training;
using Convnet.Tuning;
using Spectre.Console;

namespace Convnet.Cli.Commands;

/// <summary>
/// <c>convnet tune</c>: reads the search space and the fixed train options into the library's
/// <see cref="SearchSpace"/>, the data through <see cref="DataInput"/>, and lets <see cref="Tuner"/> run
/// the search; shows the progress and the leaderboard, writes leaderboard.csv, report.html and the
/// refitted best model into the search directory.
/// </summary>
internal static class TuneCommand
{
    public const string LeaderboardFile = "leaderboard.csv";
    public const string BestFile = "best.safetensors";

    /// <summary>The space's grammar, for --help.</summary>
    public const string SpaceHelp =
        "The search space: a JSON file, or the JSON itself (text starting with '{'). An object from a train option's name without dashes to "
        + "a list of values (\"batch-size\": [64, 128], \"optimizer\": [\"adam\", \"adamw\"]), a range of numbers (\"lr\": {\"min\": 0.0003, \"max\": 0.01, \"log\": true}: "
        + "uniform, or log-uniform with \"log\": true; whole numbers for whole-number options; real numbers are drawn with 3 significant digits), or one value. "
        + "\"arch\" may be a template whose holes the search fills: {16|32|64} one of the values, {16..64} a whole number, {0.2..0.5} a real number, "
        + "e.g. \"conv{16|32}k3-relu,maxpool2,flatten,dense{32..128}-relu,drop{0.2..0.5}\" (hole k is the parameter arch{k}). "
        + "Searchable: arch, epochs, batch-size, lr, lr-schedule, augment, optimizer, weight-decay, momentum, label-smoothing, clip-norm, ema, early-stopping, reduce-lr-on-plateau. "
        + "A train option given on the command line is fixed for every trial; one left out takes the recipe's value, as in train.";

    private static readonly string[] FixedOptions =
        ["arch", "epochs", "batch-size", "lr", "lr-schedule", "augment", "optimizer", "weight-decay", "momentum", "label-smoothing", "clip-norm", "ema", "early-stopping", "reduce-lr-on-plateau"];

    public static Command Create()
    {
        var data = new Argument<string>("TRAIN")
        {
            Description = "The labelled training images: a Kaggle-format CSV or a folder with one subfolder per class, as train takes. Trials train and validate on parts of it; no test data is used.",
            DefaultValueFactory = _ => "data/train.csv",
        };
        var space = new Option<string>("--space") { HelpName = "FILE|JSON", Description = SpaceHelp, Required = true };
        var output = new Option<string>("--out", "-o")
        {
            HelpName = "DIR",
            Description = $"The search directory: search.json (what the search is), trials/ (one JSON file per finished trial), {LeaderboardFile}, {TuneReport.ReportFile} with its PNGs, and {BestFile}. "
                + "The same command run again skips the finished trials; a directory of another search (space, strategy, folds, data or seed) is refused.",
            Required = true,
        };
        var strategy = new Option<string?>("--strategy")
        {
            HelpName = "grid|random|halving",
            Description = "grid: every combination of the lists (the first option varying slowest); random: --trials points drawn from the space, trial k from (--seed, k) alone; "
                + "halving: successive halving (one Hyperband bracket): --trials random points train a few epochs, the best 1/--reduction-factor go on with that many times more, up to --epochs "
                + "[default: grid when every option is a list, else random].",
        };
        var trials = new Option<int?>("--trials", "-n") { HelpName = "N", Description = "Points to try: random and halving draw N (default 10 and 27); grid tries the first N of the grid [default: all]." };
        var timeBudget = new Option<string?>("--time-budget")
        {
            HelpName = "TIME",
            Description = "Start no trial after this much time (e.g. 90s, 30m, 2h, 1h30m); the trials under way finish. Run the same command again to continue.",
        };
        var folds = new Option<int>("--folds", "-k")
        {
            HelpName = "K",
            Description = "Score each trial by stratified K-fold cross-validation (K models; mean and standard deviation of val_accuracy and val_loss); 0 for one split of --validation-split. The folds are the same for every trial.",
            DefaultValueFactory = _ => 0,
        };
        var validationSplit = new Option<double>("--validation-split")
        {
            Description = "Without --folds: the fraction of each class held out to score every trial on (the same split for all).",
            DefaultValueFactory = _ => 0.1,
        };
        var seed = new Option<ulong>("--seed") { Description = "Seeds the draws of the search, the folds or split, and each trial's seed (from the seed and the trial's number).", DefaultValueFactory = _ => 1UL };
        var threads = Options.Threads();
        var parallel = new Option<int>("--parallel")
        {
            HelpName = "P",
            Description = "Models trained at the same time, sharing --threads (a model's bits do not depend on it); 0 for one per thread.",
            DefaultValueFactory = _ => 0,
        };
        var refit = new Option<bool>("--refit")
        {
            HelpName = "true|false",
            Description = $"Train the best trial's settings on all of TRAIN and save it as DIR/{BestFile} (false: skip).",
            DefaultValueFactory = _ => true,
        };
        var metric = new Option<string>("--metric")
        {
            HelpName = "val_accuracy|val_loss",
            Description = "What ranks the trials: the mean validation accuracy (higher is better) or loss (lower is better).",
            DefaultValueFactory = _ => "val_accuracy",
        };
        var factor = new Option<int>("--reduction-factor")
        {
            HelpName = "ETA",
            Description = "halving: keep the best 1/ETA of each rung and give them ETA times the epochs (at least 2).",
            DefaultValueFactory = _ => 3,
        };
        var minEpochs = new Option<int>("--min-epochs") { Description = "halving: the least epochs of the first rung.", DefaultValueFactory = _ => 1 };
        var fixedOptions = FixedOptions.ToDictionary(name => name, name => new Option<string?>("--" + name)
        {
            HelpName = "VALUE",
            Description = $"train's --{name}, fixed for every trial (not in --space).",
        });
        var images = new ImageOptions();

        var command = new Command("tune", "Search hyperparameters (grid, random or successive halving) with cross-validation: a leaderboard, a report and the best settings trained on all the data.");
        command.Arguments.Add(data);
        foreach (var option in new Option[] { space, output, strategy, trials, timeBudget, folds, validationSplit, seed, threads, parallel, refit, metric, factor, minEpochs })
        {
            command.Options.Add(option);
        }
        foreach (var option in fixedOptions.Values)
        {
            command.Options.Add(option);
        }
        images.AddTo(command);
        command.SetAction((parse, cancellation) => Task.FromResult(Cli.Execute(parse, writer =>
        {
            int t = Options.CheckThreads(parse.GetValue(threads));
            var request = new TuneRequest(
                parse.GetValue(data)!, parse.GetValue(space)!, parse.GetValue(output)!)
            {
                Strategy = parse.GetValue(strategy),
                Trials = parse.GetValue(trials),
                TimeBudget = parse.GetValue(timeBudget),
                Folds = parse.GetValue(folds),
                ValidationSplit = parse.GetValue(validationSplit),
                Seed = parse.GetValue(seed),
                Threads = t,
                Parallel = parse.GetValue(parallel),
                Refit = parse.GetValue(refit),
                Metric = parse.GetValue(metric)!,
                ReductionFactor = parse.GetValue(factor),
                MinEpochs = parse.GetValue(minEpochs),
                Fixed = [.. FixedOptions.Where(n => parse.GetValue(fixedOptions[n]) is not null).Select(n => new KeyValuePair<string, string>(n, parse.GetValue(fixedOptions[n])!))],
                Images = images.Read(parse, t),
            };
            return Cli.RunCancellable(cancellation, token => Run(request, writer, parse.InvocationConfiguration.Error, token));
        })));
        return command;
    }

    /// <summary>What <c>convnet tune</c> was asked.</summary>
    internal sealed record TuneRequest(string DataPath, string Space, string Out)
    {
        public string? Strategy { get; init; }
        public int? Trials { get; init; }
        public string? TimeBudget { get; init; }
        public int Folds { get; init; }
        public double ValidationSplit { get; init; } = 0.1;
        public ulong Seed { get; init; } = 1;
        public int Threads { get; init; }
        public int Parallel { get; init; }
        public bool Refit { get; init; } = true;
        public string Metric { get; init; } = "val_accuracy";
        public int ReductionFactor { get; init; } = 3;
        public int MinEpochs { get; init; } = 1;
        public IReadOnlyList<KeyValuePair<string, string>> Fixed { get; init; } = [];
        public Images.ImageFolderOptions Images { get; init; } = new();
    }

    public static int Run(TuneRequest r, TextWriter output, TextWriter error, CancellationToken cancellation)
    {
        var metric = r.Metric switch
        {
            "val_accuracy" => TuneMetric.ValidationAccuracy,
            "val_loss" => TuneMetric.ValidationLoss,
            _ => throw new UserError($"--metric must be val_accuracy or val_loss, got '{r.Metric}'"),
        };
        TimeSpan? budget = r.TimeBudget is null ? null : ParseDuration(r.TimeBudget) ?? throw new UserError($"--time-budget needs a time such as 90s, 30m, 2h or 1h30m, got '{r.TimeBudget}'");
        if (r.Trials is < 1)
        {
            throw new UserError($"--trials must be at least 1, got {r.Trials}");
        }
        if (r.Folds is < 0 or 1)
        {
            throw new UserError($"--folds must be 2 or more (or 0 for one validation split), got {r.Folds}");
        }
        if (r.Folds == 0 && !(r.ValidationSplit > 0 && r.ValidationSplit < 1))
        {
            throw new UserError($"--validation-split must be in (0, 1) without --folds (every trial needs validation data), got {r.ValidationSplit.ToString(CultureInfo.InvariantCulture)}");
        }
        if (r.Parallel < 0)
        {
            throw new UserError($"--parallel must be 0 (one model per thread) or positive, got {r.Parallel}");
        }
        if (r.ReductionFactor < 2)
        {
            throw new UserError($"--reduction-factor must be at least 2, got {r.ReductionFactor}");
        }
        if (r.MinEpochs < 1)
        {
            throw new UserError($"--min-epochs must be at least 1, got {r.MinEpochs}");
        }
        var space = ReadSpace(r);
        string strategyName = r.Strategy ?? (space.GridSize is not null ? "grid" : "random");
        if (strategyName is not ("grid" or "random" or "halving"))
        {
            throw new UserError($"--strategy must be grid, random or halving, got '{strategyName}'");
        }
        if (strategyName == "halving" && space.Parameters.Any(p => p.Name == "epochs"))
        {
            throw new UserError("--strategy halving sets each rung's epochs: take \"epochs\" out of --space and give the last rung's as --epochs");
        }
        Cli.CheckFolderWritable(r.Out, TrialStore.SearchFile, "the search");
        if (File.Exists(r.Out))
        {
            throw new UserError($"--out '{r.Out}' is a file; give a folder (it is created when missing)");
        }
        if (Directory.Exists(r.Out) && !File.Exists(Path.Combine(r.Out, TrialStore.SearchFile)) && Directory.EnumerateFileSystemEntries(r.Out).Any())
        {
            throw new UserError($"--out '{r.Out}' is not empty and holds no {TrialStore.SearchFile} (no search of ours); give a new or empty folder");
        }
        _ = Drawing.Regular; // no font: say so now rather than after the search

        var read = DataInput.ReadLabelled(r.DataPath, r.Images);
        var data = read.Data;
        TrialObjective objective;
        try
        {
            objective = new TrialObjective(data, r.Folds, r.ValidationSplit, r.Seed);
        }
        catch (InvalidOperationException e)
        {
            throw new UserError(r.Folds >= 2 ? $"--folds {r.Folds}: {e.Message}" : $"--validation-split {r.ValidationSplit.ToString(CultureInfo.InvariantCulture)}: {e.Message}");
        }
        string defaultArch = Architectures.DefaultFor(data.SampleShape).Name;
        SearchStrategy strategy = strategyName switch
        {
            "grid" => new GridSearch(r.Trials),
            "random" => new RandomSearch(r.Trials ?? 10),
            _ => new SuccessiveHalving(r.Trials ?? 27, HalvingEpochs(space, defaultArch), r.ReductionFactor, r.MinEpochs),
        };
        var tuner = new Tuner(space, strategy, objective)
        {
            Seed = r.Seed,
            Threads = r.Threads,
            Parallel = r.Parallel,
            Metric = metric,
            TimeBudget = budget,
            Directory = r.Out,
            DefaultArchitecture = defaultArch,
        };
        Rung first;
        try
        {
            first = tuner.Plan();
        }
        catch (SearchSpaceException e)
        {
            throw new UserError($"--space: {e.Message}");
        }
        catch (ArgumentException e)
        {
            throw new UserError($"--strategy {strategyName}: {e.Message}");
        }
        var (train0, validation0) = objective.Split(0);
        output.WriteLine($"{DataInput.Describe(read, r.DataPath)}; {(r.Folds >= 2 ? $"{r.Folds} stratified folds of about {validation0.Count:N0}" : $"training on {train0.Count:N0}, validating on {validation0.Count:N0}")}.");
        DataInput.ReportLeftOut(read, output);
        int parallel = Math.Min(first.Trials.Count * objective.Splits, r.Parallel == 0 ? tuner.ThreadCount : r.Parallel);
        string plan = strategy switch
        {
            SuccessiveHalving h => $"successive halving of {first.Trials.Count} trials: {string.Join(", ", h.Schedule.Select(s => $"{s.Trials} × {s.Epochs} epoch(s)"))}",
            GridSearch => $"grid of {first.Trials.Count} trial(s){(space.GridSize > first.Trials.Count ? $" (the first {first.Trials.Count} of {space.GridSize})" : "")}",
            _ => $"{first.Trials.Count} random trial(s)",
        };
        string each = r.Folds >= 2 ? $", {r.Folds} models each" : "";
        output.WriteLine($"Searching {string.Join(", ", space.Parameters.Select(p => p.Name))}: {plan}{each}; {Math.Max(1, parallel)} model(s) at a time on {tuner.ThreadCount} thread(s); ranked by {r.Metric}; kept in {r.Out}.");
        if (space.Fixed.Count > 0)
        {
            output.WriteLine($"Fixed: {string.Join(", ", space.Fixed.Select(f => $"--{f.Key} {f.Value}"))}.");
        }

        var display = new TuneDisplay(output, space, [.. Enumerable.Range(0, objective.Splits).Select(i => objective.Split(i).Train.Count)], TrainDisplay.TerminalWidth(output));
        tuner.TrialFinished = display.Finished;
        tuner.FoldCallbacks = display.FoldCallbacks;
        TuningResult result;
        try
        {
            result = tuner.Run(cancellation);
        }
        catch (SearchDirectoryException e)
        {
            display.ClearLine();
            throw new UserError($"--out: {e.Message}");
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            display.ClearLine();
            error.WriteLine($"interrupted; {display.Count} trial(s) finished are kept in {r.Out}: run the same command again to continue.");
            return Cli.ExitCancelled;
        }
        display.ClearLine();
        var ranked = result.Leaderboard;
        string leaderboard = Path.Combine(r.Out, LeaderboardFile);
        Leaderboard.WriteCsv(leaderboard, space, ranked);
        output.WriteLine();
        ShowTable(output, space, ranked);
        string done = result.OutOfTime ? $"The time budget ({r.TimeBudget}) ran out; run the same command again to continue. " : "";
        string rungs = result.Rungs.Count > 1 ? $", {result.All.Count} results in {result.Rungs.Count} rungs," : "";
        string earlier = result.Resumed > 0 ? $" ({result.Resumed} of the {result.All.Count} results from an earlier run)" : "";
        output.WriteLine($"{done}{ranked.Count} trial(s){rungs} in {result.Seconds:F1} s{earlier}. Wrote {leaderboard}.");
        string report = TuneReport.Write(r.Out, space, result, metric, Path.GetFileName(Path.TrimEndingDirectorySeparator(r.DataPath)));
        output.WriteLine($"Wrote the report to {report}.");
        if (result.Best is not { } best)
        {
            throw new UserError($"no trial trained (see the failure column of {leaderboard})");
        }
        var settings = tuner.SettingsOf(best.Trial, new Rung(best.Rung, strategy is SuccessiveHalving sh ? sh.MaxEpochs : null, [best.Trial]));
        output.WriteLine($"Best: trial {best.Trial.Index} ({space.Format(best.Trial.Point)}), val_accuracy {best.MeanAccuracy:P2}, val_loss {best.MeanLoss:F4}.");
        output.WriteLine($"  as train options: {TrainCommandLine(settings)} --seed {best.Seed}");
        if (!r.Refit)
        {
            return 0;
        }
        string bestPath = Path.Combine(r.Out, BestFile);
        output.WriteLine($"Training the best settings on all {data.Count:N0} images for {settings.Epochs} epoch(s)...");
        var refitDisplay = TrainDisplay.For(output, TrainDisplay.TerminalWidth(output), settings.Epochs, data.Count);
        try
        {
            using var run = tuner.Refit(best, [refitDisplay], cancellation);
            var metadata = run.Metadata;
            metadata["train_file"] = Path.GetFileName(Path.TrimEndingDirectorySeparator(r.DataPath));
            metadata["epochs_trained"] = run.History!.Epochs.Count.ToString(CultureInfo.InvariantCulture);
            metadata["train_seconds"] = run.Seconds.ToString("F1", CultureInfo.InvariantCulture);
            metadata["history"] = HistoryJson.Write(run.History);
            run.Model.Save(bestPath, metadata);
            output.WriteLine($"Trained in {run.Seconds:F1} s: accuracy {run.History.Epochs[^1].Accuracy:P2}. Saved {bestPath}.");
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            refitDisplay.ClearLine();
            error.WriteLine($"interrupted while training the best settings; the search is complete in {r.Out} and {bestPath} is unchanged: run the same command again to train it.");
            return Cli.ExitCancelled;
        }
        catch (TrainingDivergedException e)
        {
            refitDisplay.ClearLine();
            throw new UserError($"training the best settings on all the data: {e.Message}; {bestPath} unchanged");
        }
        return 0;
    }

    /// <summary>The last rung's epochs: --epochs, else the recipe's that the fixed --arch names, else the data's default recipe's.</summary>
    private static int HalvingEpochs(SearchSpace space, string defaultArch)
    {
        var fixedValues = space.Fixed.ToDictionary(f => f.Key, f => f.Value);
        return fixedValues.TryGetValue("epochs", out var epochs)
            ? int.Parse(epochs, CultureInfo.InvariantCulture)
            : TrainingSettings.For(fixedValues.TryGetValue("arch", out var arch) && !ArchTemplate.IsTemplate(arch) ? arch : defaultArch).Epochs;
    }

    /// <summary>The space from --space (a file, or JSON text starting with '{') and the fixed options; a problem is reported at its token.</summary>
    private static SearchSpace ReadSpace(TuneRequest r)
    {
        bool inline = r.Space.TrimStart().StartsWith('{');
        string text;
        if (inline)
        {
            text = r.Space;
        }
        else if (Directory.Exists(r.Space))
        {
            throw new UserError($"--space '{r.Space}' is a folder; give a JSON file or the JSON itself");
        }
        else if (!File.Exists(r.Space))
        {
            throw new UserError($"--space file '{r.Space}' not found (inline JSON starts with '{{')");
        }
        else
        {
            text = File.ReadAllText(r.Space);
        }
        foreach (var (name, value) in r.Fixed)
        {
            if (TunableOptions.Find(name)!.Problem(value) is { } problem && !(name == "arch" && ArchTemplate.IsTemplate(value)))
            {
                throw new UserError($"--{name} {problem}");
            }
        }
        try
        {
            return SearchSpace.Parse(text, r.Fixed);
        }
        catch (SearchSpaceException e) when (r.Fixed.Any(f => f.Key == e.Key) && !text.Contains($"\"{e.Key}\"", StringComparison.Ordinal))
        {
            throw new UserError($"--{e.Key}: {e.Problem}");
        }
        catch (SearchSpaceException e)
        {
            throw new UserError(SpaceError(e, text, inline ? null : r.Space));
        }
    }

    /// <summary>"--space: "lr": min 0.01 is above max 0.001" with the line and column, and for one-line JSON the text with a caret under the token.</summary>
    public static string SpaceError(SearchSpaceException e, string text, string? file)
    {
        if (e.Offset < 0 || e.Offset > text.Length)
        {
            return $"--space{(file is null ? "" : $" {file}")}: {e.Message}";
        }
        int lineStart = text.LastIndexOf('\n', Math.Max(0, e.Offset - 1)) + 1;
        if (e.Offset == 0)
        {
            lineStart = 0;
        }
        int line = text[..lineStart].Count(c => c == '\n') + 1;
        int column = e.Offset - lineStart + 1;
        string where = file is null ? $"--space: column {column}" : $"--space {file}:{line}:{column}";
        if (line > 1 || text.Contains('\n'))
        {
            return $"{where}: {e.Message}";
        }
        return $"{where}: {e.Message}\n  {text}\n  {new string(' ', column - 1)}^";
    }

    /// <summary>"90s", "30m", "2h", "1h30m", "1.5h" or a number of seconds.</summary>
    public static TimeSpan? ParseDuration(string text)
    {
        text = text.Trim().ToLowerInvariant();
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double plain))
        {
            return plain > 0 && plain < 1e9 ? TimeSpan.FromSeconds(plain) : null;
        }
        double seconds = 0;
        int i = 0;
        bool any = false;
        while (i < text.Length)
        {
            int start = i;
            while (i < text.Length && (char.IsAsciiDigit(text[i]) || text[i] == '.'))
            {
                i++;
            }
            if (i == start || i == text.Length || !double.TryParse(text[start..i], NumberStyles.Float, CultureInfo.InvariantCulture, out double n))
            {
                return null;
            }
            double unit = text[i] switch { 's' => 1, 'm' => 60, 'h' => 3600, 'd' => 86400, _ => 0 };
            if (unit == 0)
            {
                return null;
            }
            seconds += n * unit;
            any = true;
            i++;
        }
        return any && seconds > 0 && seconds < 1e9 ? TimeSpan.FromSeconds(seconds) : null;
    }

    /// <summary>The train options that give <paramref name="s"/> (the seed aside).</summary>
    public static string TrainCommandLine(TrainingSettings s)
    {
        var record = Tuner.SettingsRecord(s);
        return string.Join(' ', record.Select(kv => $"--{kv.Key} {(kv.Value.Contains(',') || kv.Value.Contains(' ') ? $"'{kv.Value}'" : kv.Value)}"));
    }

    /// <summary>The leaderboard's top rows as a table: the scores as mean ± std with several folds.</summary>
    private static void ShowTable(TextWriter output, SearchSpace space, IReadOnlyList<TrialResult> ranked, int rows = 10)
    {
        bool folds = ranked.Any(r => r.Folds.Count > 1);
        bool halving = ranked.Any(r => r.Rung > 0);
        bool failures = ranked.Any(r => r.Failure is not null);
        var table = new Table().Border(TableBorder.Square);
        table.AddColumn(new TableColumn("rank").RightAligned());
        table.AddColumn(new TableColumn("trial").RightAligned());
        foreach (var p in space.Parameters)
        {
            var column = new TableColumn(Markup.Escape(p.Name));
            table.AddColumn(p.Domain.IsNumeric ? column.RightAligned() : column);
        }
        foreach (var name in new[] { "val_accuracy", "val_loss", "epochs", "seconds" }.Concat(halving ? ["rung"] : []))
        {
            table.AddColumn(new TableColumn(name).RightAligned());
        }
        if (failures)
        {
            table.AddColumn("failure");
        }
        string Score(double mean, double std) => !double.IsFinite(mean) ? "" : folds ? $"{TrainDisplay.Metric(mean)} ± {TrainDisplay.Metric(std)}" : TrainDisplay.Metric(mean);
        foreach (var (r, i) in ranked.Take(rows).Select((r, i) => (r, i)))
        {
            var cells = new List<string> { (i + 1).ToString(CultureInfo.InvariantCulture), r.Trial.Index.ToString(CultureInfo.InvariantCulture) };
            cells.AddRange(r.Trial.Point);
            cells.AddRange([Score(r.MeanAccuracy, r.StdAccuracy), Score(r.MeanLoss, r.StdLoss), r.EpochsTrained.ToString("0.##", CultureInfo.InvariantCulture), r.Seconds.ToString("F1", CultureInfo.InvariantCulture)]);
            if (halving)
            {
                cells.Add(r.Rung.ToString(CultureInfo.InvariantCulture));
            }
            if (failures)
            {
                cells.Add(r.Failure ?? "");
            }
            table.AddRow([.. cells.Select(Markup.Escape)]);
        }
        var console = Ui.For(output);
        if (!console.Profile.Capabilities.Interactive)
        {
            // A log or pipe has no width: keep every column whole.
            console.Profile.Width = 240;
        }
        console.Write(table);
        if (ranked.Count > rows)
        {
            output.WriteLine($"({ranked.Count - rows} more in {LeaderboardFile})");
        }
    }
}
