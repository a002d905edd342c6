using System.Globalization;
using Convnet.Architecture;
using Convnet.Data;
using Convnet.IO;
using Convnet.Losses;
using Convnet.Models;
using Convnet.Optimizers;
using Convnet.Saving;
using Convnet.Tensors;

namespace Convnet.Training;

/// <summary>
/// Trains one model as the command line's <c>convnet train</c> does: builds the architecture,
/// makes the optimizer (<see cref="OptimizerFactory"/>) and the callbacks the settings ask for
/// (the schedule, ReduceLROnPlateau, EarlyStopping, ModelCheckpoint, and always
/// <see cref="TerminateOnNaN"/>), and records the settings as model-file metadata.
/// <code>
/// var run = new Trainer(TrainingSettings.For(Architectures.Strong)).Train(data);
/// run.Model.Save("strong.safetensors", run.Metadata);
/// </code>
/// </summary>
public sealed class Trainer
{
    private static readonly string MetadataFloat = "R";

    /// <summary>A trainer for <paramref name="settings"/>.</summary>
    /// <param name="settings">What to train and how; not null.</param>
    /// <exception cref="ArgumentNullException"><paramref name="settings"/> is null.</exception>
    public Trainer(TrainingSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        Settings = settings;
    }

    /// <summary>What to train and how.</summary>
    public TrainingSettings Settings { get; }

    /// <summary>
    /// Splits, builds, trains on <paramref name="data"/> with <see cref="TrainingSettings.Seed"/>
    /// and returns the finished run, whose <see cref="TrainingRun.Model"/> the caller disposes
    /// (through the run).
    /// </summary>
    /// <exception cref="TrainingDivergedException">The loss or weights stopped being finite.</exception>
    public TrainingRun Train(Dataset data, IEnumerable<Callback>? callbacks = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        var (train, validation) = Split(data, Settings.Seed);
        var run = Start(train, validation, Classes(data), Settings.Seed, Settings.Threads);
        try
        {
            run.Fit(callbacks, cancellationToken);
            return run;
        }
        catch
        {
            run.Dispose();
            throw;
        }
    }

    /// <summary>The classes a model of <paramref name="data"/> scores: its class names' count, else its largest label + 1; at least 2.</summary>
    public static int Classes(Dataset data) => Math.Max(2, data.ClassCount());

    /// <summary>
    /// The training and validation sets for <paramref name="seed"/>: a stratified split when
    /// <see cref="TrainingSettings.ValidationSplit"/> is positive (a new split for each seed), else all of <paramref name="data"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">A class has too few samples to split.</exception>
    public (Dataset Train, Dataset? Validation) Split(Dataset data, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(data);
        return Settings.ValidationSplit == 0 ? (data, null) : data.SplitStratified(Settings.ValidationSplit, seed);
    }

    /// <summary>A compiled model with its optimizer, callbacks and metadata, ready for <see cref="TrainingRun.Fit"/>.</summary>
    /// <param name="train">The training set; its sample shape is the model's input shape.</param>
    /// <param name="validation">The validation set, or null to train without (the callbacks then monitor the training loss and accuracy).</param>
    /// <param name="classes">The number of classes the model scores (see <see cref="Classes"/>).</param>
    /// <param name="seed">Seeds the weights, the shuffling, dropout and augmentation.</param>
    /// <param name="threads">Worker threads of the model; 0 for one per core.</param>
    /// <param name="member">The ensemble member this is (0 for a single model).</param>
    /// <exception cref="ArchitectureSpecException">The architecture is malformed or does not fit the data.</exception>
    public TrainingRun Start(Dataset train, Dataset? validation, int classes, ulong seed, int threads, int member = 0)
    {
        ArgumentNullException.ThrowIfNull(train);
        var s = Settings;
        var model = s.From is { } from ? StartFrom(from, train.SampleShape, classes, seed, threads) : Architectures.Create(s.Architecture, train.SampleShape, classes, seed, threads);
        try
        {
            model.ClassNames = train.ClassNames;
            var optimizer = OptimizerFactory.Create(s.Optimizer, s.LearningRate, s.WeightDecay, s.Momentum, s.ClipNorm, s.EmaMomentum);
            model.Compile(optimizer, new SparseCategoricalCrossentropy(s.LabelSmoothing));
            var metadata = RunMetadata(model, optimizer, train, validation is not null);
            var callbacks = new List<Callback>();
            long steps = (long)((train.Count + s.BatchSize - 1) / s.BatchSize) * s.Epochs;
            if (s.Schedule.PerStep(s.LearningRate, steps) is { } perStep)
            {
                optimizer.Schedule = perStep;
            }
            if (s.Schedule.PerEpoch(s.LearningRate, s.Epochs) is { } perEpoch)
            {
                callbacks.Add(new LearningRateScheduler(perEpoch));
            }
            string lossMonitor = validation is null ? "loss" : "val_loss";
            if (s.ReduceLrOnPlateau is { } plateau)
            {
                callbacks.Add(new ReduceLROnPlateau(lossMonitor, factor: 0.5f, patience: plateau, minLr: 1e-6f));
            }
            if (s.EarlyStopping is { } patience)
            {
                callbacks.Add(new EarlyStopping(lossMonitor, patience, restoreBestWeights: true));
            }
            if (s.CheckpointPath is not null)
            {
                callbacks.Add(new ModelCheckpoint(s.CheckpointPath, validation is null ? "accuracy" : "val_accuracy", saveBestOnly: true, metadata: new Dictionary<string, string>(metadata)));
            }
            var backup = BackupDirectory(member) is { } directory
                ? new BackupAndRestore(directory, BackupFingerprint(metadata, train, validation), deleteCheckpoint: false)
                : null;
            return new TrainingRun(member, seed, model, train, validation, s, callbacks, metadata) { Backup = backup };
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The model a run with <see cref="TrainingSettings.From"/> starts from: the file's layers and
    /// weights (<see cref="Sequential.ForClasses"/>), after checking that it is one model, takes
    /// samples of <paramref name="input"/> and is what <see cref="TrainingSettings.Architecture"/>
    /// describes (unless that is the file's path).
    /// </summary>
    /// <exception cref="ModelFormatException">The file cannot be read, or is an ensemble.</exception>
    /// <exception cref="ArchitectureSpecException">The file's model takes other samples than <paramref name="input"/>, differs from the architecture named, or cannot change its class count.</exception>
    private Sequential StartFrom(string path, Shape input, int classes, ulong seed, int threads)
    {
        var (file, _) = ModelFile.LoadClassifier(path, threads: 1);
        if (file is not Sequential source)
        {
            int members = file is Ensemble ensemble ? ensemble.Members.Count : 0;
            file.Dispose();
            throw new ModelFormatException(path, $"an ensemble of {members} models; training starts from one model");
        }
        using (source)
        {
            if (source.InputShape != input)
            {
                throw new ArchitectureSpecException($"'{path}' takes samples of {source.InputShape} but the data's are {input}");
            }
            if (Settings.Architecture != path)
            {
                using var named = Architectures.Create(Settings.Architecture, input, source.Classes, seed, threads: 1);
                if (!named.HasSameArchitecture(source))
                {
                    throw new ArchitectureSpecException($"'{Settings.Architecture}' is not the architecture of '{path}' ({Describe(source)})");
                }
            }
            try
            {
                return source.ForClasses(classes, seed, threads);
            }
            catch (ArgumentException e)
            {
                throw new ArchitectureSpecException($"'{path}' scores {source.Classes} classes and cannot score {classes}: {e.Message}", inner: e);
            }
        }
    }

    /// <summary>The layers of <paramref name="model"/> as a spec when the spec language can say them (<see cref="SpecOf"/>), else their type names.</summary>
    public static string Describe(Sequential model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return SpecOf(model) ?? string.Join(", ", model.Layers.Select(l => l.TypeName));
    }

    /// <summary>The spec of <paramref name="model"/>'s layers, or null when the spec language cannot say them (e.g. an imported BatchNormalization's epsilon).</summary>
    private static string? SpecOf(Sequential model)
    {
        try
        {
            return ArchitectureSpec.Format(model.Layers);
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    /// <summary>Members keep their backups in subfolders (set by <see cref="EnsembleTrainer"/>).</summary>
    internal bool BackupPerMember { get; init; }

    /// <summary>
    /// Where member <paramref name="member"/>'s backup lives: <see cref="TrainingSettings.BackupDirectory"/>,
    /// or its subfolder <c>member&lt;k&gt;</c> in an ensemble; null without backups.
    /// </summary>
    public string? BackupDirectory(int member) => Settings.BackupDirectory is not { } directory ? null
        : BackupPerMember ? Path.Combine(directory, string.Create(CultureInfo.InvariantCulture, $"member{member}"))
        : directory;

    /// <summary>What a backup must share with the run that resumes it: the settings it records, and the data itself.</summary>
    private static Dictionary<string, string> BackupFingerprint(Dictionary<string, string> metadata, Dataset train, Dataset? validation)
    {
        var fingerprint = new Dictionary<string, string>(metadata);
        using var sha = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        foreach (var data in validation is null ? [train] : new[] { train, validation })
        {
            sha.AppendData(data.Pixels);
            sha.AppendData(data.Labels ?? []);
        }
        fingerprint["data_sha256"] = Convert.ToHexStringLower(sha.GetHashAndReset());
        fingerprint["validation_images"] = (validation?.Count ?? 0).ToString(CultureInfo.InvariantCulture);
        return fingerprint;
    }

    /// <summary>The settings every model file of this run records (those of each member in an ensemble).</summary>
    private Dictionary<string, string> RunMetadata(Sequential model, Optimizer optimizer, Dataset train, bool validating)
    {
        var s = Settings;
        static string F(float x) => x.ToString(MetadataFloat, CultureInfo.InvariantCulture);
        string lossMonitor = validating ? "val_loss" : "loss";
        var metadata = new Dictionary<string, string>
        {
            ["arch"] = s.Architecture,
            ["optimizer"] = s.Optimizer,
            ["learning_rate"] = F(s.LearningRate),
            ["lr_schedule"] = s.Schedule.ToString(),
            ["epochs"] = s.Epochs.ToString(CultureInfo.InvariantCulture),
            ["batch_size"] = s.BatchSize.ToString(CultureInfo.InvariantCulture),
            ["validation_split"] = s.ValidationSplit.ToString(MetadataFloat, CultureInfo.InvariantCulture),
            ["seed"] = s.Seed.ToString(CultureInfo.InvariantCulture),
            ["augmentation"] = s.Augmentation.ToString(),
        };
        // A model imported from elsewhere may have settings the spec language cannot say.
        if (SpecOf(model) is { } spec)
        {
            metadata["arch_spec"] = spec;
        }
        if (s.From is { } from)
        {
            metadata["from"] = Path.GetFileName(from);
        }
        foreach (var (key, value) in s.Metadata)
        {
            metadata[key] = value;
        }
        metadata["train_images"] = train.Count.ToString(CultureInfo.InvariantCulture);
        if (optimizer is AdamW adamW)
        {
            metadata["weight_decay"] = F(adamW.WeightDecay);
        }
        if (s.Optimizer is "rmsprop" or "sgd")
        {
            metadata["momentum"] = F(s.Momentum ?? 0);
        }
        metadata["label_smoothing"] = F(s.LabelSmoothing);
        metadata["clip_norm"] = s.ClipNorm is { } clip ? F(clip) : "none";
        metadata["ema_momentum"] = s.EmaMomentum is { } average ? F(average) : "none";
        metadata["reduce_lr_on_plateau"] = s.ReduceLrOnPlateau is { } plateau ? $"patience {plateau} on {lossMonitor}, factor 0.5, min 1e-6" : "none";
        metadata["early_stopping"] = s.EarlyStopping is { } patience ? $"patience {patience} on {lossMonitor}, best weights restored" : "none";
        metadata["checkpoint"] = s.CheckpointPath is null ? "none" : Path.GetFileName(s.CheckpointPath);
        return metadata;
    }
}
