using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Convnet.Cli.Visualization;
using Convnet.Data;
using Convnet.Models;
using Convnet.Optimizers;
using Spectre.Console;

namespace Convnet.Cli.Commands;

internal static class TrainCommand
{
    public const int DefaultEpochs = 6;
    public const int DefaultBatchSize = 64;

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
            Description = $"Architecture: {string.Join(", ", Architectures.Names)}. 'simple' = Conv32-Pool-Conv64-Pool-Dense128-Dense10.",
            DefaultValueFactory = _ => "simple",
        };
        var epochs = new Option<int>("--epochs", "-e") { Description = "Passes over the training data.", DefaultValueFactory = _ => DefaultEpochs };
        var batchSize = new Option<int>("--batch-size", "-b") { Description = "Images per optimisation step.", DefaultValueFactory = _ => DefaultBatchSize };
        var lr = new Option<float>("--lr") { Description = "Adam learning rate (of the first epoch).", DefaultValueFactory = _ => 1e-3f };
        var schedule = new Option<string>("--lr-schedule")
        {
            Description = "Learning rate per epoch: 'cosine' (lr·½(1 + cos(π·epoch/epochs)), falling towards 0) or 'constant'.",
            DefaultValueFactory = _ => "cosine",
        };
        schedule.AcceptOnlyFromAmong("cosine", "constant");
        var validationSplit = new Option<double>("--validation-split")
        {
            Description = "Fraction of each class held out for validation (stratified); 0 disables.",
            DefaultValueFactory = _ => 0.1,
        };
        var seed = new Option<ulong>("--seed") { Description = "Seeds initialisation, the split and shuffling: the same seed gives the same model bits.", DefaultValueFactory = _ => 1UL };
        var threads = Options.Threads();
        var plot = new Option<string?>("--plot")
        {
            HelpName = "PNG",
            Description = "Also draw the training curves to this PNG: loss and accuracy per epoch, training and validation (the learning rate on a second axis when it changes).",
        };
        var historyCsv = new Option<string?>("--history")
        {
            HelpName = "CSV",
            Description = "Also write the per-epoch history (loss, accuracy, val_loss, val_accuracy, learning_rate, seconds) to this CSV. It is always kept in the model file's metadata.",
        };
        var augment = new Option<string>("--augment")
        {
            HelpName = "SPEC",
            Description = "Random augmentation of training images, e.g. 'rotation=10,zoom=0.1,shift=0.1,shear=0' (degrees, scale ±, fraction of the size, degrees; missing keys 0), or 'none'.",
            DefaultValueFactory = _ => "none",
        };
        var command = new Command("train", "Train a CNN on a labelled CSV and save it as safetensors.")
        {
            trainCsv, model, arch, epochs, batchSize, lr, schedule, validationSplit, seed, threads, plot, historyCsv, augment,
        };
        command.SetAction((parse, cancellation) => Task.FromResult(Cli.Execute(parse, output =>
        {
            var settings = new Settings(
                parse.GetValue(trainCsv)!,
                parse.GetValue(model)!,
                parse.GetValue(arch)!,
                parse.GetValue(epochs),
                parse.GetValue(batchSize),
                parse.GetValue(lr),
                parse.GetValue(schedule)!,
                parse.GetValue(validationSplit),
                parse.GetValue(seed),
                Options.CheckThreads(parse.GetValue(threads)))
            {
                PlotPath = parse.GetValue(plot),
                HistoryPath = parse.GetValue(historyCsv),
                Augmentation = ParseAugment(parse.GetValue(augment)!),
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
    }

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

    /// <summary>The learning rate of epoch <paramref name="epoch"/> (0-based) of <paramref name="epochs"/>.</summary>
    public static float ScheduledRate(string schedule, float initial, int epoch, int epochs) => schedule switch
    {
        "cosine" => (float)(initial * 0.5 * (1 + Math.Cos(Math.PI * epoch / epochs))),
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
        if (!Architectures.Names.Contains(s.Arch))
        {
            throw new UserError($"unknown --arch '{s.Arch}'; known: {string.Join(", ", Architectures.Names)}");
        }
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

        var clock = Stopwatch.StartNew();
        var data = KaggleCsv.ReadLabelled(s.TrainCsv);
        double loadSeconds = clock.Elapsed.TotalSeconds;
        int classes = Math.Max(2, data.ClassCount());
        Dataset train = data;
        Dataset? validation = null;
        if (s.ValidationSplit > 0)
        {
            try
            {
                (train, validation) = data.SplitStratified(s.ValidationSplit, s.Seed);
            }
            catch (InvalidOperationException e)
            {
                throw new UserError($"--validation-split {s.ValidationSplit.ToString(CultureInfo.InvariantCulture)}: {e.Message}");
            }
        }
        output.WriteLine($"Read {data.Count:N0} images from {s.TrainCsv} in {loadSeconds:F2} s; training on {train.Count:N0}, validating on {validation?.Count ?? 0:N0}.");

        using var net = Architectures.Create(s.Arch, data.SampleShape, classes, s.Seed, s.Threads);
        net.Compile(new Adam(s.LearningRate));
        output.WriteLine($"Model '{s.Arch}': {net.ParameterCount:N0} parameters; {net.Threads} thread(s); batch {s.BatchSize}; {s.Epochs} epoch(s).");

        var trainClock = Stopwatch.StartNew();
        var history = Fit(net, train, validation, s, output, cancellation);
        double trainSeconds = trainClock.Elapsed.TotalSeconds;

        var last = history.Epochs[^1];
        var metadata = new Dictionary<string, string>
        {
            ["arch"] = s.Arch,
            ["optimizer"] = "adam",
            ["learning_rate"] = s.LearningRate.ToString("R", CultureInfo.InvariantCulture),
            ["lr_schedule"] = s.Schedule,
            ["epochs"] = s.Epochs.ToString(CultureInfo.InvariantCulture),
            ["batch_size"] = s.BatchSize.ToString(CultureInfo.InvariantCulture),
            ["validation_split"] = s.ValidationSplit.ToString("R", CultureInfo.InvariantCulture),
            ["seed"] = s.Seed.ToString(CultureInfo.InvariantCulture),
            ["augmentation"] = s.Augmentation.ToString(),
            ["train_file"] = Path.GetFileName(s.TrainCsv),
            ["train_images"] = train.Count.ToString(CultureInfo.InvariantCulture),
            ["train_seconds"] = trainSeconds.ToString("F1", CultureInfo.InvariantCulture),
            // No timings: the file must depend only on the data and the settings (see --seed).
            ["history"] = HistoryJson.Write(history),
        };
        net.Save(s.ModelPath, metadata);
        string val = validation is null ? "" : $", val_accuracy {last.ValidationAccuracy:P2}";
        output.WriteLine($"Trained in {trainSeconds:F1} s ({(double)train.Count * s.Epochs / trainSeconds:N0} images/s): accuracy {last.Accuracy:P2}{val}. Saved {s.ModelPath}.");
        if (s.HistoryPath is not null)
        {
            HistoryJson.WriteCsv(s.HistoryPath, history.Epochs);
            output.WriteLine($"Wrote the history of {history.Epochs.Count} epoch(s) to {s.HistoryPath}.");
        }
        if (s.PlotPath is not null)
        {
            AtomicWrite.Bytes(s.PlotPath, CurvesPlot.Render(history.Epochs, $"Training curves: {s.Arch} on {Path.GetFileName(s.TrainCsv)}"));
            output.WriteLine($"Wrote the training curves to {s.PlotPath}.");
        }
        return 0;
    }

    private static History Fit(Sequential net, Dataset train, Dataset? validation, Settings s, TextWriter output, CancellationToken cancellation)
    {
        // Each epoch's log records the rate it trained with; then the next epoch's rate is set.
        void Schedule(EpochLog e) => net.Optimizer!.LearningRate = ScheduledRate(s.Schedule, s.LearningRate, e.Epoch, s.Epochs);
        bool interactive = ReferenceEquals(output, Console.Out) && AnsiConsole.Profile.Capabilities.Interactive && !Console.IsOutputRedirected;
        void EpochLine(EpochLog e)
        {
            string val = double.IsNaN(e.ValidationLoss) ? "" : $" - val_loss: {e.ValidationLoss:F4} - val_accuracy: {e.ValidationAccuracy:F4}";
            output.WriteLine($"Epoch {e.Epoch}/{s.Epochs} - {e.Seconds:F1}s - {train.Count / e.Seconds:N0} images/s - loss: {e.Loss:F4} - accuracy: {e.Accuracy:F4}{val} - lr: {e.LearningRate:G3}");
        }
        if (!interactive)
        {
            return net.Fit(train, s.Epochs, s.BatchSize, validation, seed: s.Seed, epochEnd: e => { EpochLine(e); Schedule(e); }, cancellationToken: cancellation, augmentation: s.Augmentation);
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
                history = net.Fit(train, s.Epochs, s.BatchSize, validation, seed: s.Seed,
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
                        Schedule(e);
                    },
                    cancellationToken: cancellation,
                    augmentation: s.Augmentation);
            });
        return history!;
    }
}
