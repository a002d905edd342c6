using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Convnet.Cli.Visualization;
using Convnet.Data;
using Convnet.Models;
using Convnet.Optimizers;
using Spectre.Console;
using Convnet.Training;
using Convnet.Architecture;
using Convnet.IO;
using Convnet.Saving;

namespace Convnet.Cli.Commands;

internal static class TrainCommand
{
    public const int DefaultEpochs = 8;
    public const int DefaultBatchSize = 64;
    public const float DefaultExponentialRate = 0.95f;
    public static readonly string[] OptimizerNames = ["adam", "adamw", "rmsprop", "sgd"];

    public static Command Create()
    {
        var trainCsv = new Argument<string>("TRAIN_CSV")
        {
            Description = "Labelled Kaggle-format CSV: header label,pixel0..pixel783.",
            DefaultValueFactory = _ => "data/train.csv",
        };
        var model = Options.Model("Where to write the trained model (written to a temporary file, then renamed).");
        var arch = new Option<string>("--arch")
        {
            HelpName = "NAME|SPEC|FILE.json",
            Description = $"Architecture. {Options.ArchHelp} A recipe brings its own defaults for --epochs, --batch-size, --lr, --lr-schedule, --augment and --ema; specs and files take simple's.",
            DefaultValueFactory = _ => "simple",
        };
        var epochs = new Option<int?>("--epochs", "-e") { Description = $"Passes over the training data [default: the recipe's; {DefaultEpochs} for simple, specs and files; 30 for strong]." };
        var batchSize = new Option<int?>("--batch-size", "-b") { Description = $"Images per optimisation step [default: the recipe's; {DefaultBatchSize}]." };
        var lr = new Option<float?>("--lr") { Description = "Learning rate (of the first epoch; the peak for onecycle) [default: the recipe's; 0.001]." };
        var schedule = new Option<string?>("--lr-schedule")
        {
            HelpName = "constant|cosine|exponential[:RATE]|onecycle",
            Description = "Learning rate per epoch: 'cosine' (lr·½(1 + cos(π·epoch/epochs)), falling towards 0), 'constant', "
                + $"'exponential[:RATE]' (lr·RATE^epoch, RATE in (0, 1], {DefaultExponentialRate.ToString(CultureInfo.InvariantCulture)} when left out), or per step "
                + "'onecycle' (from lr/25 up to lr over the first 30% of steps, then down to lr/250000) [default: the recipe's; cosine for simple, exponential:0.95 for strong].",
        };
        var validationSplit = new Option<double>("--validation-split")
        {
            Description = "Fraction of each class held out for validation (stratified); 0 disables.",
            DefaultValueFactory = _ => 0.1,
        };
        var seed = new Option<ulong>("--seed") { Description = "Seeds initialisation, the split and shuffling: the same seed gives the same model bits. Member k of --ensemble uses seed + k.", DefaultValueFactory = _ => 1UL };
        var threads = Options.Threads();
        var plot = new Option<string?>("--plot")
        {
            HelpName = "PNG",
            Description = "Also draw the training curves to this PNG: loss and accuracy per epoch, training and validation (the learning rate on a second axis when it changes); of member 0 only with --ensemble.",
        };
        var historyCsv = new Option<string?>("--history")
        {
            HelpName = "CSV",
            Description = "Also write the per-epoch history (loss, accuracy, val_loss, val_accuracy, learning_rate, seconds) to this CSV, with a first column 'member' with --ensemble N > 1. It is always kept in the model file's metadata.",
        };
        var augment = new Option<string?>("--augment")
        {
            HelpName = "SPEC",
            Description = "Random augmentation of training images, e.g. 'rotation=10,zoom=0.1,shift=0.1,shear=0' (degrees, scale ±, fraction of the size, degrees; missing keys 0), or 'none' [default: the recipe's; rotation=10,zoom=0.1,shift=0.1 for simple, strong, specs and files].",
        };
        // Optimiser, regularisation and callbacks.
        var optimizer = new Option<string>("--optimizer")
        {
            HelpName = string.Join('|', OptimizerNames),
            Description = "Optimiser: Adam, AdamW (decoupled weight decay, see --weight-decay), RMSprop or SGD (both with --momentum).",
            DefaultValueFactory = _ => "adam",
        };
        var weightDecay = new Option<float?>("--weight-decay") { Description = "AdamW's decoupled weight decay [default: 0.004]; only with --optimizer adamw." };
        var momentum = new Option<float?>("--momentum") { Description = "Momentum in [0, 1) for --optimizer sgd or rmsprop [default: 0]." };
        var labelSmoothing = new Option<float>("--label-smoothing") { Description = "Label smoothing of the cross-entropy, in [0, 1).", DefaultValueFactory = _ => 0f };
        var clipNorm = new Option<float?>("--clip-norm") { Description = "Clip each step's gradients to this global L2 norm (positive)." };
        var ema = new Option<float?>("--ema")
        {
            HelpName = "MOMENTUM",
            Description = "Keep an exponential moving average of the weights, avg = μ·avg + (1 − μ)·w after step t with μ = min(MOMENTUM, (t − 1)/(t + 8)) "
                + "(Keras's use_ema, warmed up as TensorFlow's ExponentialMovingAverage), and save the averaged weights (validation during training uses the current ones, as Keras). "
                + "MOMENTUM in [0, 1); 0 keeps no average [default: the recipe's; 0.999 for strong, none for simple, specs and files; none with --early-stopping].",
        };
        var earlyStopping = new Option<int?>("--early-stopping")
        {
            HelpName = "PATIENCE",
            Description = "Stop when val_loss (loss without validation) has not improved for PATIENCE epochs, and keep the best epoch's weights.",
        };
        var reduceLr = new Option<int?>("--reduce-lr-on-plateau")
        {
            HelpName = "PATIENCE",
            Description = "Halve the learning rate (down to 1e-6) when val_loss (loss without validation) has not improved for PATIENCE epochs.",
        };
        var checkpoint = new Option<string?>("--checkpoint")
        {
            HelpName = "PATH",
            Description = "Also save the model of the best epoch by val_accuracy (accuracy without validation) to PATH, atomically, as training goes.",
        };
        var ensemble = new Option<int>("--ensemble")
        {
            HelpName = "N",
            Description = "Train N models (several at a time when there are threads to share, see --parallel-members), member k (from 0) with seed --seed + k for its initialisation, shuffling, dropout, augmentation "
                + "and its own stratified validation split, and save them as one model file (tensors under 'member<k>.') whose prediction is the mean "
                + "of the members' probabilities. --early-stopping and --reduce-lr-on-plateau act on each member; --checkpoint needs N = 1.",
            DefaultValueFactory = _ => 1,
        };
        var parallelMembers = new Option<int>("--parallel-members")
        {
            HelpName = "P",
            Description = "With --ensemble N: train P members at the same time, sharing --threads between them (a member's bits do not depend on it); "
                + "0 for one member per thread. Each member in training holds its own activations, so memory grows with P.",
            DefaultValueFactory = _ => 0,
        };
        var command = new Command("train", "Train a CNN (or an ensemble of them, --ensemble N) on a labelled CSV and save it as safetensors.")
        {
            trainCsv, model, arch, epochs, batchSize, lr, schedule, validationSplit, seed, threads, plot, historyCsv, augment,
            optimizer, weightDecay, momentum, labelSmoothing, clipNorm, ema, earlyStopping, reduceLr, checkpoint, ensemble, parallelMembers,
        };
        command.SetAction((parse, cancellation) => Task.FromResult(Cli.Execute(parse, output =>
        {
            string archValue = parse.GetValue(arch)!;
            var recipe = Architectures.Find(archValue) ?? Architectures.Simple;
            var settings = new Settings(
                parse.GetValue(trainCsv)!,
                parse.GetValue(model)!,
                archValue,
                parse.GetValue(epochs) ?? recipe.Epochs ?? DefaultEpochs,
                parse.GetValue(batchSize) ?? recipe.BatchSize ?? DefaultBatchSize,
                parse.GetValue(lr) ?? recipe.LearningRate ?? 1e-3f,
                parse.GetValue(schedule) ?? recipe.Schedule ?? "cosine",
                parse.GetValue(validationSplit),
                parse.GetValue(seed),
                Options.CheckThreads(parse.GetValue(threads)))
            {
                PlotPath = parse.GetValue(plot),
                HistoryPath = parse.GetValue(historyCsv),
                Augmentation = ParseAugment(parse.GetValue(augment) ?? recipe.Augment ?? "none"),
                Optimizer = parse.GetValue(optimizer)!,
                WeightDecay = parse.GetValue(weightDecay),
                Momentum = parse.GetValue(momentum),
                LabelSmoothing = parse.GetValue(labelSmoothing),
                ClipNorm = parse.GetValue(clipNorm),
                EmaMomentum = EmaSetting(parse.GetValue(ema), recipe.EmaMomentum, parse.GetValue(earlyStopping) is not null),
                EarlyStopping = parse.GetValue(earlyStopping),
                ReduceLrOnPlateau = parse.GetValue(reduceLr),
                CheckpointPath = parse.GetValue(checkpoint),
                Ensemble = parse.GetValue(ensemble),
                ParallelMembers = parse.GetValue(parallelMembers),
            };
            return Run(settings, output, cancellation);
        })));
        return command;
    }

    public sealed record Settings(string TrainCsv, string ModelPath, string Arch, int Epochs, int BatchSize, float LearningRate, string Schedule, double ValidationSplit, ulong Seed, int Threads)
    {
        /// <summary>PNG of the training curves, or null.</summary>
        public string? PlotPath { get; init; }

        /// <summary>CSV of the per-epoch history, or null.</summary>
        public string? HistoryPath { get; init; }

        /// <summary>Random augmentation of the training images (none by default).</summary>
        public Augmentation Augmentation { get; init; } = Augmentation.None;

        /// <summary>adam, adamw, rmsprop or sgd.</summary>
        public string Optimizer { get; init; } = "adam";

        /// <summary>AdamW's weight decay; null for its default.</summary>
        public float? WeightDecay { get; init; }

        /// <summary>SGD's or RMSprop's momentum; null for 0.</summary>
        public float? Momentum { get; init; }

        public float LabelSmoothing { get; init; }

        public float? ClipNorm { get; init; }

        /// <summary>Momentum of the moving average of the weights that is saved, or null to save the weights as trained.</summary>
        public float? EmaMomentum { get; init; }

        /// <summary>EarlyStopping patience (restoring the best weights), or null for none.</summary>
        public int? EarlyStopping { get; init; }

        /// <summary>ReduceLROnPlateau patience, or null for none.</summary>
        public int? ReduceLrOnPlateau { get; init; }

        /// <summary>Where to keep the best epoch's model, or null.</summary>
        public string? CheckpointPath { get; init; }

        /// <summary>Members to train (member k with seed <see cref="Seed"/> + k); 1 is a single model.</summary>
        public int Ensemble { get; init; } = 1;

        /// <summary>Members trained at the same time, sharing the threads; 0 for one per thread.</summary>
        public int ParallelMembers { get; init; }
    }

    /// <summary>
    /// The moving average's momentum: --ema's value when given (0 for none), else the recipe's unless
    /// --early-stopping asks for the best epoch's weights as trained; a bad value is checked later.
    /// </summary>
    public static float? EmaSetting(float? option, float? recipe, bool earlyStopping) => option switch
    {
        0f => null,
        { } given => given,
        null => earlyStopping ? null : recipe,
    };

    /// <summary>Reads --augment's value; a bad token is a user error that names it.</summary>
    public static Augmentation ParseAugment(string text)
    {
        try
        {
            return Augmentation.Parse(text);
        }
        catch (FormatException e)
        {
            throw new UserError($"--augment '{text}': {e.Message}");
        }
    }

    /// <summary>"constant", "cosine", "exponential" with its rate, or "onecycle", from an --lr-schedule value.</summary>
    public static (string Kind, float Rate) ParseSchedule(string schedule)
    {
        string[] parts = schedule.Split(':', 2);
        if (parts[0] == "exponential")
        {
            if (parts.Length == 1)
            {
                return ("exponential", DefaultExponentialRate);
            }
            if (float.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out float rate) && rate > 0 && rate <= 1)
            {
                return ("exponential", rate);
            }
            throw new UserError($"--lr-schedule '{schedule}': the exponential rate must be a number in (0, 1]");
        }
        return parts is ["constant" or "cosine" or "onecycle"]
            ? (parts[0], 1)
            : throw new UserError($"--lr-schedule must be constant, cosine, exponential[:RATE] or onecycle, got '{schedule}'");
    }

    /// <summary>The learning rate of epoch <paramref name="epoch"/> (0-based) of <paramref name="epochs"/> under a per-epoch schedule.</summary>
    public static float ScheduledRate(string schedule, float initial, int epoch, int epochs) => ParseSchedule(schedule) switch
    {
        ("cosine", _) => (float)(initial * 0.5 * (1 + Math.Cos(Math.PI * epoch / epochs))),
        ("exponential", var rate) => (float)(initial * Math.Pow(rate, epoch)),
        _ => initial,
    };

    public static int Run(Settings s, TextWriter output, CancellationToken cancellation)
    {
        if (s.Epochs < 1)
        {
            throw new UserError($"--epochs must be at least 1, got {s.Epochs}");
        }
        if (s.BatchSize < 1)
        {
            throw new UserError($"--batch-size must be at least 1, got {s.BatchSize}");
        }
        if (!(s.LearningRate > 0) || float.IsInfinity(s.LearningRate))
        {
            throw new UserError($"--lr must be positive, got {s.LearningRate.ToString(CultureInfo.InvariantCulture)}");
        }
        if (!(s.ValidationSplit >= 0 && s.ValidationSplit < 1))
        {
            throw new UserError($"--validation-split must be in [0, 1), got {s.ValidationSplit.ToString(CultureInfo.InvariantCulture)}");
        }
        if (s.Ensemble < 1)
        {
            throw new UserError($"--ensemble must be at least 1, got {s.Ensemble}");
        }
        if (s.ParallelMembers < 0)
        {
            throw new UserError($"--parallel-members must be 0 (one member per thread) or positive, got {s.ParallelMembers}");
        }
        if (s.Ensemble > 1 && s.CheckpointPath is not null)
        {
            throw new UserError($"--checkpoint keeps the best epoch of one model; it cannot be combined with --ensemble {s.Ensemble}");
        }
        Options.CheckArch(s.Arch);
        CheckTrainingOptions(s);
        Cli.CheckWritable(s.ModelPath, "model");
        if (s.PlotPath is not null)
        {
            Cli.CheckWritable(s.PlotPath, "plot");
            _ = Drawing.Regular; // no font: say so now rather than after training
        }
        if (s.HistoryPath is not null)
        {
            Cli.CheckWritable(s.HistoryPath, "history");
        }
        if (s.CheckpointPath is not null)
        {
            Cli.CheckWritable(s.CheckpointPath, "checkpoint");
        }

        var clock = Stopwatch.StartNew();
        var data = KaggleCsv.ReadLabelled(s.TrainCsv);
        double loadSeconds = clock.Elapsed.TotalSeconds;
        int classes = Math.Max(2, data.ClassCount());
        var (train, validation) = Split(data, s, s.Seed);
        string ownSplits = s.Ensemble > 1 && validation is not null ? " (each member its own split)" : "";
        output.WriteLine($"Read {data.Count:N0} images from {s.TrainCsv} in {loadSeconds:F2} s; training on {train.Count:N0}, validating on {validation?.Count ?? 0:N0}{ownSplits}.");
        return s.Ensemble == 1
            ? RunSingle(s, train, validation, classes, output, cancellation)
            : RunEnsemble(s, data, (train, validation), classes, output, cancellation);
    }

    /// <summary>
    /// The training and validation sets for <paramref name="seed"/>: a stratified split when
    /// --validation-split is positive (a new split for each seed), else all of <paramref name="data"/>.
    /// </summary>
    private static (Dataset Train, Dataset? Validation) Split(Dataset data, Settings s, ulong seed)
    {
        if (s.ValidationSplit == 0)
        {
            return (data, null);
        }
        try
        {
            return data.SplitStratified(s.ValidationSplit, seed);
        }
        catch (InvalidOperationException e)
        {
            throw new UserError($"--validation-split {s.ValidationSplit.ToString(CultureInfo.InvariantCulture)}: {e.Message}");
        }
    }

    /// <summary>The settings every model file of this run records (those of each member in an ensemble).</summary>
    private static Dictionary<string, string> SettingsMetadata(Settings s, Sequential net, Dataset train, Dictionary<string, string> settings)
    {
        var metadata = new Dictionary<string, string>
        {
            ["arch"] = s.Arch,
            ["arch_spec"] = ArchitectureSpec.Format(net.Layers),
            ["optimizer"] = s.Optimizer,
            ["learning_rate"] = s.LearningRate.ToString("R", CultureInfo.InvariantCulture),
            ["lr_schedule"] = s.Schedule,
            ["epochs"] = s.Epochs.ToString(CultureInfo.InvariantCulture),
            ["batch_size"] = s.BatchSize.ToString(CultureInfo.InvariantCulture),
            ["validation_split"] = s.ValidationSplit.ToString("R", CultureInfo.InvariantCulture),
            ["seed"] = s.Seed.ToString(CultureInfo.InvariantCulture),
            ["augmentation"] = s.Augmentation.ToString(),
            ["train_file"] = Path.GetFileName(s.TrainCsv),
            ["train_images"] = train.Count.ToString(CultureInfo.InvariantCulture),
        };
        foreach (var (key, value) in settings)
        {
            metadata[key] = value;
        }
        return metadata;
    }

    private static int RunSingle(Settings s, Dataset train, Dataset? validation, int classes, TextWriter output, CancellationToken cancellation)
    {
        using var net = Options.CreateArch(s.Arch, train.SampleShape, classes, s.Seed, s.Threads);
        int batches = (train.Count + s.BatchSize - 1) / s.BatchSize;
        var (optimizer, callbacks, settings) = Configure(s, validation is not null, (long)batches * s.Epochs);
        net.Compile(optimizer, new Losses.SparseCategoricalCrossentropy(s.LabelSmoothing));
        output.WriteLine($"Model '{s.Arch}': {net.ParameterCount:N0} parameters; {net.Threads} thread(s); batch {s.BatchSize}; {s.Epochs} epoch(s); {s.Optimizer}, lr {s.LearningRate.ToString(CultureInfo.InvariantCulture)}, {s.Schedule}.");

        var metadata = SettingsMetadata(s, net, train, settings);
        if (s.CheckpointPath is not null)
        {
            callbacks.Add(new ModelCheckpoint(s.CheckpointPath, validation is null ? "accuracy" : "val_accuracy", saveBestOnly: true, metadata: new Dictionary<string, string>(metadata)));
        }

        var trainClock = Stopwatch.StartNew();
        var history = Fit(net, train, validation, s, s.Seed, callbacks, output, cancellation);
        double trainSeconds = trainClock.Elapsed.TotalSeconds;

        var last = history.Epochs[^1];
        metadata["epochs_trained"] = history.Epochs.Count.ToString(CultureInfo.InvariantCulture);
        metadata["train_seconds"] = trainSeconds.ToString("F1", CultureInfo.InvariantCulture);
        // No timings: the file must depend only on the data and the settings (see --seed).
        metadata["history"] = HistoryJson.Write(history);
        net.Save(s.ModelPath, metadata);
        ReportEarlyStop(callbacks, output);
        ReportAverage(net, validation, s, last, output);
        string val = validation is null ? "" : $", val_accuracy {last.ValidationAccuracy:P2}";
        output.WriteLine($"Trained in {trainSeconds:F1} s ({(double)train.Count * history.Epochs.Count / trainSeconds:N0} images/s): accuracy {last.Accuracy:P2}{val}. Saved {s.ModelPath}.");
        if (callbacks.OfType<ModelCheckpoint>().FirstOrDefault() is { SavedEpochs.Count: > 0 } saved)
        {
            output.WriteLine($"Checkpoint {s.CheckpointPath} holds epoch {saved.SavedEpochs[^1]} (best {saved.MonitorName}).");
        }
        if (s.HistoryPath is not null)
        {
            HistoryJson.WriteCsv(s.HistoryPath, history.Epochs);
            output.WriteLine($"Wrote the history of {history.Epochs.Count} epoch(s) to {s.HistoryPath}.");
        }
        if (s.PlotPath is not null)
        {
            AtomicFile.WriteAllBytes(s.PlotPath, CurvesPlot.Render(history.Epochs, $"Training curves: {s.Arch} on {Path.GetFileName(s.TrainCsv)}"));
            output.WriteLine($"Wrote the training curves to {s.PlotPath}.");
        }
        return 0;
    }

    /// <summary>
    /// Trains the members, <see cref="Settings.ParallelMembers"/> at a time with the threads shared out between
    /// them (a member's bits do not depend on its threads), and saves them as one ensemble file: the run's
    /// settings at the top level, each member's seed, history, epochs_trained and train_seconds under its
    /// "member&lt;k&gt;." prefix.
    /// </summary>
    /// <param name="firstSplit">Member 0's training and validation sets, already made.</param>
    private static int RunEnsemble(Settings s, Dataset data, (Dataset Train, Dataset? Validation) firstSplit, int classes, TextWriter output, CancellationToken cancellation)
    {
        int n = s.Ensemble;
        int threads = s.Threads == 0 ? Environment.ProcessorCount : s.Threads;
        int parallel = Math.Min(n, s.ParallelMembers == 0 ? threads : s.ParallelMembers);
        var log = parallel > 1 ? TextWriter.Synchronized(output) : output;
        var members = new List<Sequential>(n);
        var memberMetadata = new List<IReadOnlyDictionary<string, string>>(n);
        var histories = new List<IReadOnlyList<EpochLog>>(n);
        Dictionary<string, string>? metadata = null;
        try
        {
            var totalClock = Stopwatch.StartNew();
            for (int first = 0; first < n; first += parallel)
            {
                int count = Math.Min(parallel, n - first);
                var group = new List<MemberRun>(count);
                try
                {
                    for (int i = 0; i < count; i++)
                    {
                        int k = first + i;
                        ulong seed = unchecked(s.Seed + (ulong)k);
                        var (train, validation) = k == 0 ? firstSplit : Split(data, s, seed);
                        // This group's share of the threads, the first members taking what does not divide.
                        int share = Math.Max(1, threads / count + (i < threads % count ? 1 : 0));
                        var net = Options.CreateArch(s.Arch, data.SampleShape, classes, seed, share);
                        group.Add(new MemberRun(k, seed, net, train, validation));
                        int batches = (train.Count + s.BatchSize - 1) / s.BatchSize;
                        var (optimizer, callbacks, settings) = Configure(s, validation is not null, (long)batches * s.Epochs);
                        net.Compile(optimizer, new Losses.SparseCategoricalCrossentropy(s.LabelSmoothing));
                        group[i].Callbacks = callbacks;
                        if (metadata is null)
                        {
                            metadata = SettingsMetadata(s, net, train, settings);
                            string layout = parallel > 1 ? $"{parallel} at a time, {threads} thread(s) shared between them" : $"{net.Threads} thread(s)";
                            log.WriteLine($"Ensemble of {n} models '{s.Arch}': {net.ParameterCount:N0} parameters each; {layout}; batch {s.BatchSize}; {s.Epochs} epoch(s); {s.Optimizer}, lr {s.LearningRate.ToString(CultureInfo.InvariantCulture)}, {s.Schedule}.");
                        }
                        log.WriteLine($"Member {k + 1}/{n} (seed {seed})");
                    }
                    if (count == 1)
                    {
                        TrainMember(group[0], s, n, log, interactive: true, cancellation);
                    }
                    else
                    {
                        TrainTogether(group, s, n, log, cancellation);
                    }
                    foreach (var run in group)
                    {
                        memberMetadata.Add(run.Metadata!);
                        histories.Add(run.History!.Epochs);
                        members.Add(WeightsOnly(run.Net));
                    }
                }
                finally
                {
                    foreach (var run in group)
                    {
                        run.Net.Dispose();
                    }
                }
            }
            double totalSeconds = totalClock.Elapsed.TotalSeconds;
            metadata!["train_seconds"] = totalSeconds.ToString("F1", CultureInfo.InvariantCulture);
            ModelFile.SaveEnsemble(members, s.ModelPath, metadata, memberMetadata);
            output.WriteLine($"Trained {n} models in {totalSeconds:F1} s. Saved the ensemble to {s.ModelPath}.");
        }
        finally
        {
            foreach (var member in members)
            {
                member.Dispose();
            }
        }
        if (s.HistoryPath is not null)
        {
            HistoryJson.WriteCsv(s.HistoryPath, histories);
            output.WriteLine($"Wrote the history of {n} members, {histories.Sum(h => h.Count)} epoch(s) in all, to {s.HistoryPath}.");
        }
        if (s.PlotPath is not null)
        {
            AtomicFile.WriteAllBytes(s.PlotPath, CurvesPlot.Render(histories[0], $"Training curves: {s.Arch} on {Path.GetFileName(s.TrainCsv)}, member 0 of {n} (seed {s.Seed})"));
            output.WriteLine($"Wrote the training curves of member 0 to {s.PlotPath}.");
        }
        return 0;
    }

    /// <summary>
    /// With --ema, the saved (averaged) weights' validation score beside the last epoch's, which
    /// Fit measured with the weights as trained.
    /// </summary>
    private static void ReportAverage(Sequential net, Dataset? validation, Settings s, EpochLog last, TextWriter output, string prefix = "")
    {
        if (s.EmaMomentum is null || validation is null)
        {
            return;
        }
        var (loss, accuracy) = net.Evaluate(validation);
        output.WriteLine($"{prefix}Averaged weights (--ema {s.EmaMomentum.Value.ToString(CultureInfo.InvariantCulture)}): val_loss {loss:F4}, val_accuracy {accuracy:P2} (as trained: {last.ValidationLoss:F4}, {last.ValidationAccuracy:P2}).");
    }

    /// <summary>One ensemble member in training: its model and sets, then what it gave.</summary>
    private sealed class MemberRun(int index, ulong seed, Sequential net, Dataset train, Dataset? validation)
    {
        public int Index { get; } = index;
        public ulong Seed { get; } = seed;
        public Sequential Net { get; } = net;
        public Dataset Train { get; } = train;
        public Dataset? Validation { get; } = validation;
        public List<Callback> Callbacks { get; set; } = [];
        public History? History { get; set; }
        public Dictionary<string, string>? Metadata { get; set; }
    }

    private static void TrainMember(MemberRun run, Settings s, int n, TextWriter log, bool interactive, CancellationToken cancellation)
    {
        string prefix = interactive ? "" : $"Member {run.Index + 1}/{n}: ";
        var clock = Stopwatch.StartNew();
        var history = Fit(run.Net, run.Train, run.Validation, s, run.Seed, run.Callbacks, log, cancellation, interactive, prefix);
        double seconds = clock.Elapsed.TotalSeconds;
        ReportEarlyStop(run.Callbacks, log, prefix);
        var last = history.Epochs[^1];
        ReportAverage(run.Net, run.Validation, s, last, log, prefix);
        string val = run.Validation is null ? "" : $", val_accuracy {last.ValidationAccuracy:P2}";
        log.WriteLine($"Member {run.Index + 1}/{n} trained in {seconds:F1} s: accuracy {last.Accuracy:P2}{val}.");
        run.History = history;
        run.Metadata = new Dictionary<string, string>
        {
            ["seed"] = run.Seed.ToString(CultureInfo.InvariantCulture),
            ["epochs_trained"] = history.Epochs.Count.ToString(CultureInfo.InvariantCulture),
            ["train_seconds"] = seconds.ToString("F1", CultureInfo.InvariantCulture),
            ["history"] = HistoryJson.Write(history),
        };
    }

    /// <summary>Trains <paramref name="group"/> at the same time, each on a thread of its own; the first failure stops the others and is thrown.</summary>
    private static void TrainTogether(List<MemberRun> group, Settings s, int n, TextWriter log, CancellationToken cancellation)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        var tasks = group.Select(run => Task.Factory.StartNew(() =>
        {
            try
            {
                TrainMember(run, s, n, log, interactive: false, stop.Token);
            }
            catch
            {
                stop.Cancel();
                throw;
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();
        try
        {
            Task.WaitAll(tasks);
        }
        catch (AggregateException e)
        {
            // The cause, not a member stopped because another failed.
            var cause = e.InnerExceptions.FirstOrDefault(x => x is not OperationCanceledException) ?? e.InnerExceptions[0];
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(cause).Throw();
        }
    }

    /// <summary>
    /// A copy of a trained model with its weights and none of its training buffers (activations,
    /// optimizer state), so that an ensemble's finished members cost only their parameters.
    /// </summary>
    private static Sequential WeightsOnly(Sequential net)
    {
        var copy = ArchitectureSpec.FromJson(ModelFile.ArchitectureJson(net), net.InputShape, net.Classes, net.Seed, threads: 1);
        copy.SetWeights(net.GetWeights());
        return copy;
    }

    private static void ReportEarlyStop(List<Callback> callbacks, TextWriter output, string prefix = "")
    {
        if (callbacks.OfType<EarlyStopping>().FirstOrDefault() is { StoppedEpoch: > 0 } stopped)
        {
            output.WriteLine($"{prefix}Stopped early after epoch {stopped.StoppedEpoch}; kept the weights of epoch {stopped.BestEpoch}.");
        }
    }

    /// <summary>Validates the optimiser, schedule and callback options (before any data is read).</summary>
    private static void CheckTrainingOptions(Settings s)
    {
        string F(float x) => x.ToString(CultureInfo.InvariantCulture);
        if (!OptimizerNames.Contains(s.Optimizer))
        {
            throw new UserError($"--optimizer must be one of {string.Join(", ", OptimizerNames)}, got '{s.Optimizer}'");
        }
        var (kind, _) = ParseSchedule(s.Schedule);
        if (s.WeightDecay is { } wd && s.Optimizer != "adamw")
        {
            throw new UserError($"--weight-decay {F(wd)} needs --optimizer adamw (got {s.Optimizer})");
        }
        if (s.WeightDecay is { } decay && !(decay >= 0 && decay < 1))
        {
            throw new UserError($"--weight-decay must be in [0, 1), got {F(decay)}");
        }
        if (s.Momentum is { } m && s.Optimizer is not ("sgd" or "rmsprop"))
        {
            throw new UserError($"--momentum {F(m)} needs --optimizer sgd or rmsprop (got {s.Optimizer})");
        }
        if (s.Momentum is { } mom && !(mom >= 0 && mom < 1))
        {
            throw new UserError($"--momentum must be in [0, 1), got {F(mom)}");
        }
        if (!(s.LabelSmoothing >= 0 && s.LabelSmoothing < 1))
        {
            throw new UserError($"--label-smoothing must be in [0, 1), got {F(s.LabelSmoothing)}");
        }
        if (s.ClipNorm is { } clip && (!(clip > 0) || float.IsInfinity(clip)))
        {
            throw new UserError($"--clip-norm must be positive, got {F(clip)}");
        }
        if (s.EmaMomentum is { } mu && !(mu >= 0 && mu < 1))
        {
            throw new UserError($"--ema must be a momentum in [0, 1), got {F(mu)}");
        }
        if (s.EmaMomentum is not null && s.EarlyStopping is not null)
        {
            throw new UserError("--ema cannot be combined with --early-stopping, which ends with the best epoch's weights as trained instead of the average");
        }
        if (s.EarlyStopping is < 0)
        {
            throw new UserError($"--early-stopping must be a patience of 0 or more epochs, got {s.EarlyStopping}");
        }
        if (s.ReduceLrOnPlateau is < 0)
        {
            throw new UserError($"--reduce-lr-on-plateau must be a patience of 0 or more epochs, got {s.ReduceLrOnPlateau}");
        }
        if (s.ReduceLrOnPlateau is not null && kind == "onecycle")
        {
            throw new UserError("--reduce-lr-on-plateau cannot be combined with --lr-schedule onecycle, which sets the rate of every step");
        }
    }

    /// <summary>The optimiser, the callbacks and the settings to record, for validated <paramref name="s"/>.</summary>
    private static (Optimizer Optimizer, List<Callback> Callbacks, Dictionary<string, string> Metadata) Configure(Settings s, bool validating, long steps)
    {
        string F(float x) => x.ToString("R", CultureInfo.InvariantCulture);
        var metadata = new Dictionary<string, string>();
        Optimizer optimizer;
        switch (s.Optimizer)
        {
            case "adamw":
                var adamW = s.WeightDecay is { } wd
                    ? new AdamW(s.LearningRate, wd, clipNorm: s.ClipNorm, emaMomentum: s.EmaMomentum)
                    : new AdamW(s.LearningRate, clipNorm: s.ClipNorm, emaMomentum: s.EmaMomentum);
                metadata["weight_decay"] = F(adamW.WeightDecay);
                optimizer = adamW;
                break;
            case "rmsprop":
                optimizer = new RmsProp(s.LearningRate, momentum: s.Momentum ?? 0, clipNorm: s.ClipNorm, emaMomentum: s.EmaMomentum);
                metadata["momentum"] = F(s.Momentum ?? 0);
                break;
            case "sgd":
                optimizer = new Sgd(s.LearningRate, s.Momentum ?? 0, s.ClipNorm, s.EmaMomentum);
                metadata["momentum"] = F(s.Momentum ?? 0);
                break;
            default:
                optimizer = new Adam(s.LearningRate, clipNorm: s.ClipNorm, emaMomentum: s.EmaMomentum);
                break;
        }
        metadata["label_smoothing"] = F(s.LabelSmoothing);
        metadata["clip_norm"] = s.ClipNorm is { } clip ? F(clip) : "none";
        metadata["ema_momentum"] = s.EmaMomentum is { } average ? F(average) : "none";

        var callbacks = new List<Callback>();
        var (kind, _) = ParseSchedule(s.Schedule);
        if (kind == "onecycle")
        {
            if (steps < 2)
            {
                throw new UserError($"--lr-schedule onecycle needs at least 2 steps, got {steps} (more epochs or a smaller --batch-size)");
            }
            optimizer.Schedule = new OneCycle(s.LearningRate, steps);
        }
        else if (kind != "constant")
        {
            // Before each epoch: the scheduled rate, times whatever ReduceLROnPlateau took off (exactly 1 when it did nothing).
            callbacks.Add(new LearningRateScheduler((epoch, current) => epoch == 0
                ? current
                : ScheduledRate(s.Schedule, s.LearningRate, epoch, s.Epochs) * (current / ScheduledRate(s.Schedule, s.LearningRate, epoch - 1, s.Epochs))));
        }
        string lossMonitor = validating ? "val_loss" : "loss";
        if (s.ReduceLrOnPlateau is { } plateau)
        {
            callbacks.Add(new ReduceLROnPlateau(lossMonitor, factor: 0.5f, patience: plateau, minLr: 1e-6f));
            metadata["reduce_lr_on_plateau"] = $"patience {plateau} on {lossMonitor}, factor 0.5, min 1e-6";
        }
        else
        {
            metadata["reduce_lr_on_plateau"] = "none";
        }
        if (s.EarlyStopping is { } patience)
        {
            callbacks.Add(new EarlyStopping(lossMonitor, patience, restoreBestWeights: true));
            metadata["early_stopping"] = $"patience {patience} on {lossMonitor}, best weights restored";
        }
        else
        {
            metadata["early_stopping"] = "none";
        }
        metadata["checkpoint"] = s.CheckpointPath is null ? "none" : Path.GetFileName(s.CheckpointPath);
        return (optimizer, callbacks, metadata);
    }

    /// <param name="progress">Whether a progress bar may be drawn (on an interactive console); else a line per epoch, after <paramref name="prefix"/>.</param>
    private static History Fit(Sequential net, Dataset train, Dataset? validation, Settings s, ulong seed, List<Callback> callbacks, TextWriter output, CancellationToken cancellation, bool progress = true, string prefix = "")
    {
        bool interactive = progress && ReferenceEquals(output, Console.Out) && AnsiConsole.Profile.Capabilities.Interactive && !Console.IsOutputRedirected;
        void EpochLine(EpochLog e)
        {
            string val = double.IsNaN(e.ValidationLoss) ? "" : $" - val_loss: {e.ValidationLoss:F4} - val_accuracy: {e.ValidationAccuracy:F4}";
            output.WriteLine($"{prefix}Epoch {e.Epoch}/{s.Epochs} - {e.Seconds:F1}s - {train.Count / e.Seconds:N0} images/s - loss: {e.Loss:F4} - accuracy: {e.Accuracy:F4}{val} - lr: {e.LearningRate:G3}");
        }
        if (!interactive)
        {
            return net.Fit(train, s.Epochs, s.BatchSize, validation, seed: seed, epochEnd: EpochLine, cancellationToken: cancellation, callbacks: callbacks, augmentation: s.Augmentation);
        }

        History? history = null;
        AnsiConsole.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                ProgressTask? task = null;
                long lastUpdate = 0;
                history = net.Fit(train, s.Epochs, s.BatchSize, validation, seed: seed,
                    progress: p =>
                    {
                        if (task is null || p.Batch == 1)
                        {
                            task = ctx.AddTask($"Epoch {p.Epoch}/{p.Epochs}", maxValue: p.Total);
                        }
                        long now = Stopwatch.GetTimestamp();
                        if (p.Batch == p.Batches || Stopwatch.GetElapsedTime(lastUpdate, now).TotalMilliseconds > 100)
                        {
                            lastUpdate = now;
                            task.Value = p.Seen;
                            task.Description = $"Epoch {p.Epoch}/{p.Epochs}  loss {p.Loss:F4}  acc {p.Accuracy:F4}  {p.Seen / Math.Max(p.ElapsedSeconds, 1e-9):N0} img/s";
                        }
                    },
                    epochEnd: e =>
                    {
                        if (task is not null)
                        {
                            string val = double.IsNaN(e.ValidationLoss) ? "" : $"  val_loss {e.ValidationLoss:F4}  val_acc {e.ValidationAccuracy:F4}";
                            task.Description = $"Epoch {e.Epoch}/{s.Epochs}  loss {e.Loss:F4}  acc {e.Accuracy:F4}{val}  {train.Count / e.Seconds:N0} img/s";
                            task.Value = task.MaxValue;
                            task.StopTask();
                        }
                    },
                    cancellationToken: cancellation,
                    callbacks: callbacks,
                    augmentation: s.Augmentation);
            });
        return history!;
    }
}
