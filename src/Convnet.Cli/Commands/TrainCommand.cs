using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Convnet.Architecture;
using Convnet.Cli.Visualization;
using Convnet.Data;
using Convnet.IO;
using Convnet.Models;
using Convnet.Saving;
using Convnet.Training;

namespace Convnet.Cli.Commands;

/// <summary>
/// <c>convnet train</c>: reads the options into settings (<see cref="TrainOptions"/>), the CSV or image
/// folder into a data set (<see cref="DataInput"/>), and lets the library's <see cref="Trainer"/> or <see cref="EnsembleTrainer"/> train;
/// shows the progress and saves what they give.
/// </summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var options = new TrainOptions();
        var command = new Command("train", "Train a CNN (or an ensemble of them, --ensemble N) on a labelled CSV or a folder of images (one subfolder per class) and save it as safetensors.");
        options.AddTo(command);
        command.SetAction((parse, cancellation) => Task.FromResult(Cli.Execute(parse, output =>
            Cli.RunCancellable(cancellation, token => Run(options.Read(parse), output, parse.InvocationConfiguration.Error, token)))));
        return command;
    }

    public static int Run(TrainRequest r, TextWriter output, TextWriter error, CancellationToken cancellation)
    {
        TrainOptions.Check(r);
        var read = DataInput.ReadLabelled(r.DataPath, r.Images);
        var data = read.Data;
        if (r.WithDefaultRecipe is { } rebase && Architectures.DefaultFor(data.SampleShape) is var recipe && recipe != Architectures.Default)
        {
            output.WriteLine($"Images of {data.SampleShape.Height}×{data.SampleShape.Width} are too small for the default recipe '{Architectures.Default.Name}': training '{recipe.Name}' with its settings.");
            r = rebase(recipe);
            TrainOptions.Check(r);
        }
        int? fromClasses = TrainOptions.CheckFromFits(r, data);
        var s = r.Settings;
        var trainer = new Trainer(s);
        var (train, validation) = Split(trainer, data, s.Seed);
        TrainOptions.CheckSteps(s, train.Count);
        string ownSplits = r.Ensemble > 1 && validation is not null ? " (each member its own split)" : "";
        output.WriteLine($"{DataInput.Describe(read, r.DataPath)}; training on {train.Count:N0}, validating on {validation?.Count ?? 0:N0}{ownSplits}.");
        DataInput.ReportLeftOut(read, output);
        if (!read.IsFolder && data.ClassNames is { } names)
        {
            output.WriteLine(SummaryCommand.DescribeClasses(names.Count, names));
        }
        if (s.From is { } from)
        {
            int classes = Trainer.Classes(data);
            output.WriteLine(fromClasses == classes
                ? $"Starting from {from}: every layer's weights."
                : $"Starting from {from}: every layer's weights but the last Dense, which scores {classes} classes instead of {fromClasses} and starts from --seed {s.Seed}.");
        }
        var progress = new List<TrainDisplay>();
        try
        {
            return r.Ensemble == 1
                ? RunSingle(r, trainer, train, validation, Trainer.Classes(data), output, progress, cancellation)
                : RunEnsemble(r, data, (train, validation), output, progress, cancellation);
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            progress.ForEach(p => p.ClearLine());
            int kept = progress.Count == 0 ? 0 : progress.Max(p => p.FinishedEpochs);
            if (r.Ensemble == 1 && s.BackupDirectory is { } backup)
            {
                // A resumed run had finished the backup's epochs before this process began.
                kept = Math.Max(kept, BackupAndRestore.PeekEpochs(backup) ?? 0);
            }
            string when = kept == 0 ? "during epoch 1" : $"after epoch {kept}";
            string checkpoint = s.CheckpointPath is null || kept == 0 ? "" : $"; checkpoint {s.CheckpointPath} holds the best of epochs 1-{kept}";
            error.WriteLine($"interrupted {when}; {r.ModelPath} unchanged{checkpoint}{ResumeHint(r)}.");
            return Cli.ExitCancelled;
        }
        catch (TrainingDivergedException e)
        {
            progress.ForEach(p => p.ClearLine());
            string member = r.Ensemble > 1 ? $" (member {e.Member + 1}/{r.Ensemble})" : "";
            string checkpoint = s.CheckpointPath is null ? "" : $"; checkpoint {s.CheckpointPath} keeps the best finite epoch";
            string clip = s.ClipNorm is null ? ", or --clip-norm 1" : $", or a smaller --clip-norm than {s.ClipNorm.Value.ToString(CultureInfo.InvariantCulture)}";
            throw new UserError($"{e.Message}{member}; {r.ModelPath} unchanged{checkpoint}. Try a lower --lr than {s.LearningRate.ToString(CultureInfo.InvariantCulture)}{clip}.");
        }
        catch (ArchitectureSpecException e)
        {
            throw Options.ArchError(s.Architecture, e);
        }
    }

    /// <summary>With --backup, what the interrupted run left to resume from.</summary>
    private static string ResumeHint(TrainRequest r)
    {
        if (r.Settings.BackupDirectory is not { } backup)
        {
            return "";
        }
        if (r.Ensemble > 1)
        {
            return $"; run the same command again to resume from the members' backups in {backup}";
        }
        int? done = BackupAndRestore.PeekEpochs(backup);
        return done is { } epochs
            ? $"; run the same command again to resume from {backup} (epoch {epochs} of {r.Settings.Epochs} done)"
            : $"; no epoch finished, so {backup} holds no backup yet";
    }

    private static (Dataset Train, Dataset? Validation) Split(Trainer trainer, Dataset data, ulong seed)
    {
        try
        {
            return trainer.Split(data, seed);
        }
        catch (InvalidOperationException e)
        {
            throw new UserError($"--validation-split {trainer.Settings.ValidationSplit.ToString(CultureInfo.InvariantCulture)}: {e.Message}");
        }
    }

    private static int RunSingle(TrainRequest r, Trainer trainer, Dataset train, Dataset? validation, int classes, TextWriter output, List<TrainDisplay> progress, CancellationToken cancellation)
    {
        var s = r.Settings;
        using var run = trainer.Start(train, validation, classes, s.Seed, s.Threads);
        output.WriteLine($"Model '{r.Arch}': {run.Model.ParameterCount:N0} parameters; {run.Model.Threads} thread(s); batch {s.BatchSize}; {s.Epochs} epoch(s); {s.Optimizer}, lr {s.LearningRate.ToString(CultureInfo.InvariantCulture)}, {s.Schedule}.");
        var display = TrainDisplay.For(output, TrainDisplay.TerminalWidth(output), s.Epochs, train.Count);
        progress.Add(display);
        if (run.Backup is { } backup)
        {
            backup.Restored = done => output.WriteLine($"Resuming from {backup.Directory}: epoch {done} of {s.Epochs} done.");
        }
        var history = run.Fit([display], cancellation);
        int resumed = run.Backup?.RestoredEpochs ?? 0;

        var last = history.Epochs[^1];
        var metadata = run.Metadata;
        metadata["epochs_trained"] = history.Epochs.Count.ToString(CultureInfo.InvariantCulture);
        metadata["train_seconds"] = run.Seconds.ToString("F1", CultureInfo.InvariantCulture);
        // No timings: the file must depend only on the data and the settings (see --seed).
        metadata["history"] = HistoryJson.Write(history);
        run.Model.Save(r.ModelPath, metadata);
        // Only now: a crash before the model was saved resumes from the backup instead of starting over.
        run.Backup?.Delete();
        ReportEnd(run, output);
        string val = validation is null ? "" : $", val_accuracy {last.ValidationAccuracy:P2}";
        string speed = history.Epochs.Count > resumed ? $" ({(double)train.Count * (history.Epochs.Count - resumed) / run.Seconds:N0} images/s)" : "";
        output.WriteLine($"Trained in {run.Seconds:F1} s{speed}: accuracy {last.Accuracy:P2}{val}. Saved {r.ModelPath}.");
        if (run.Checkpoint is { SavedEpochs.Count: > 0 } saved)
        {
            output.WriteLine($"Checkpoint {s.CheckpointPath} holds epoch {saved.SavedEpochs[^1]} (best {saved.MonitorName}).");
        }
        if (r.HistoryPath is not null)
        {
            HistoryJson.WriteCsv(r.HistoryPath, history.Epochs);
            output.WriteLine($"Wrote the history of {history.Epochs.Count} epoch(s) to {r.HistoryPath}.");
        }
        if (r.PlotPath is not null)
        {
            AtomicFile.WriteAllBytes(r.PlotPath, CurvesPlot.Render(history.Epochs, $"Training curves: {r.Arch} on {Path.GetFileName(Path.TrimEndingDirectorySeparator(r.DataPath))}"));
            output.WriteLine($"Wrote the training curves to {r.PlotPath}.");
        }
        return 0;
    }

    /// <summary>Whether it stopped early, and with --ema the saved (averaged) weights' validation score beside the last epoch's.</summary>
    private static void ReportEnd(TrainingRun run, TextWriter output, string prefix = "")
    {
        if (run.EarlyStopping is { StoppedEpoch: > 0 } stopped)
        {
            output.WriteLine($"{prefix}Stopped early after epoch {stopped.StoppedEpoch}; kept the weights of epoch {stopped.BestEpoch}.");
        }
        if (run.AveragedValidation is var (loss, accuracy))
        {
            var last = run.History!.Epochs[^1];
            output.WriteLine($"{prefix}Averaged weights (--ema {run.Settings.EmaMomentum!.Value.ToString(CultureInfo.InvariantCulture)}): val_loss {loss:F4}, val_accuracy {accuracy:P2} (as trained: {last.ValidationLoss:F4}, {last.ValidationAccuracy:P2}).");
        }
    }

    /// <summary>
    /// Trains the members through <see cref="EnsembleTrainer"/> and saves them as one ensemble file: the
    /// run's settings at the top level, each member's seed, history, epochs_trained and train_seconds
    /// under its "member&lt;k&gt;." prefix.
    /// </summary>
    private static int RunEnsemble(TrainRequest r, Dataset data, (Dataset Train, Dataset? Validation) firstSplit, TextWriter output, List<TrainDisplay> progress, CancellationToken cancellation)
    {
        var s = r.Settings;
        int n = r.Ensemble;
        var trainer = new EnsembleTrainer(s, n, r.ParallelMembers);
        int parallel = trainer.Parallel;
        var log = parallel > 1 ? TextWriter.Synchronized(output) : output;
        int? width = TrainDisplay.TerminalWidth(output);
        trainer.MemberStarting = run =>
        {
            if (run.Member == 0)
            {
                string layout = parallel > 1 ? $"{parallel} at a time, {trainer.Threads} thread(s) shared between them" : $"{run.Model.Threads} thread(s)";
                log.WriteLine($"Ensemble of {n} models '{r.Arch}': {run.Model.ParameterCount:N0} parameters each; {layout}; batch {s.BatchSize}; {s.Epochs} epoch(s); {s.Optimizer}, lr {s.LearningRate.ToString(CultureInfo.InvariantCulture)}, {s.Schedule}.");
            }
            log.WriteLine($"Member {run.Member + 1}/{n} (seed {run.Seed})");
            if (run.Backup is { } backup)
            {
                backup.Restored = done => log.WriteLine($"Member {run.Member + 1}/{n}: resuming from {backup.Directory}: epoch {done} of {s.Epochs} done.");
            }
        };
        trainer.MemberCallbacks = run =>
        {
            var display = TrainDisplay.For(log, width, s.Epochs, run.Train.Count, run.SharesTheMachine ? $"Member {run.Member + 1}/{n}: " : "", alone: !run.SharesTheMachine);
            lock (progress)
            {
                progress.Add(display);
            }
            return [display];
        };
        trainer.MemberTrained = run =>
        {
            string prefix = run.SharesTheMachine ? $"Member {run.Member + 1}/{n}: " : "";
            ReportEnd(run, log, prefix);
            var last = run.History!.Epochs[^1];
            string val = run.Validation is null ? "" : $", val_accuracy {last.ValidationAccuracy:P2}";
            log.WriteLine($"Member {run.Member + 1}/{n} trained in {run.Seconds:F1} s: accuracy {last.Accuracy:P2}{val}.");
        };
        using var result = trainer.Train(data, cancellation, firstSplit);
        var memberMetadata = result.Members.Select(m => (IReadOnlyDictionary<string, string>)new Dictionary<string, string>
        {
            ["seed"] = m.Seed.ToString(CultureInfo.InvariantCulture),
            ["epochs_trained"] = m.History.Epochs.Count.ToString(CultureInfo.InvariantCulture),
            ["train_seconds"] = m.Seconds.ToString("F1", CultureInfo.InvariantCulture),
            ["history"] = HistoryJson.Write(m.History),
        }).ToList();
        var metadata = result.Metadata;
        metadata["train_seconds"] = result.Seconds.ToString("F1", CultureInfo.InvariantCulture);
        result.Ensemble.Save(r.ModelPath, metadata, memberMetadata);
        trainer.DeleteBackups();
        output.WriteLine($"Trained {n} models in {result.Seconds:F1} s. Saved the ensemble to {r.ModelPath}.");
        var histories = result.Members.Select(m => m.History.Epochs).ToList();
        if (r.HistoryPath is not null)
        {
            HistoryJson.WriteCsv(r.HistoryPath, histories);
            output.WriteLine($"Wrote the history of {n} members, {histories.Sum(h => h.Count)} epoch(s) in all, to {r.HistoryPath}.");
        }
        if (r.PlotPath is not null)
        {
            AtomicFile.WriteAllBytes(r.PlotPath, CurvesPlot.Render(histories[0], $"Training curves: {r.Arch} on {Path.GetFileName(Path.TrimEndingDirectorySeparator(r.DataPath))}, member 0 of {n} (seed {s.Seed})"));
            output.WriteLine($"Wrote the training curves of member 0 to {r.PlotPath}.");
        }
        return 0;
    }
}
