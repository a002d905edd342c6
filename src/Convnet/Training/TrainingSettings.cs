using Convnet.Architecture;
using Convnet.Data;
using Convnet.Optimizers;

namespace Convnet.Training;

/// <summary>
/// Everything a training run needs besides its data: the architecture and a recipe's settings
/// (<see cref="For(Recipe)"/>), then whatever the caller overrides with <c>with { ... }</c>.
/// <see cref="Trainer"/> and <see cref="EnsembleTrainer"/> train with them; the command line's
/// train options map one to one onto these properties.
/// </summary>
public sealed record TrainingSettings
{
    /// <summary>
    /// A recipe name (<see cref="Architectures.Names"/>), a layer spec (<see cref="ArchitectureSpec"/>) or a .json architecture file;
    /// with <see cref="From"/>, the same path as <see cref="From"/> for the file's own architecture (see <see cref="ForModel"/>).
    /// </summary>
    public required string Architecture { get; init; }

    /// <summary>
    /// A model file (one model, as <c>ModelFile.Load</c> reads: trained here or imported from ONNX) whose layers and
    /// weights the run starts from, to fine-tune it; null to start from <see cref="Architecture"/>'s fresh weights.
    /// With the file's class count every layer starts from the file; with another, every layer but the last Dense, which
    /// is initialised from the seed. <see cref="Architecture"/> is either this path or one that builds the same layers.
    /// </summary>
    public string? From { get; init; }

    /// <summary>Passes over the training data; the default recipe's (<see cref="Architectures.Default"/>) by default.</summary>
    public int Epochs { get; init; } = Architectures.Default.Epochs;

    /// <summary>Images per optimisation step; the default recipe's 64 by default.</summary>
    public int BatchSize { get; init; } = Architectures.Default.BatchSize;

    /// <summary>Of the first epoch (the peak for <see cref="RateSchedule.OneCycle"/>).</summary>
    public float LearningRate { get; init; } = Architectures.Default.LearningRate;

    /// <summary>How the rate moves over the run; the default recipe's by default.</summary>
    public RateSchedule Schedule { get; init; } = Architectures.Default.Schedule;

    /// <summary>Random warps of the training images; the default recipe's by default.</summary>
    public Augmentation Augmentation { get; init; } = Architectures.Default.Augmentation;

    /// <summary>Momentum of the moving average of the weights that is kept and saved, or null to keep the weights as trained.</summary>
    public float? EmaMomentum { get; init; }

    /// <summary>One of <see cref="OptimizerFactory.Names"/>.</summary>
    public string Optimizer { get; init; } = "adam";

    /// <summary>AdamW's weight decay; null for its default.</summary>
    public float? WeightDecay { get; init; }

    /// <summary>SGD's or RMSprop's momentum; null for 0.</summary>
    public float? Momentum { get; init; }

    /// <summary>The loss's label smoothing ε, in [0, 1) (see <see cref="Losses.SparseCategoricalCrossentropy"/>); 0 for none.</summary>
    public float LabelSmoothing { get; init; }

    /// <summary>The global L2 norm each step's gradients are clipped to, or null.</summary>
    public float? ClipNorm { get; init; }

    /// <summary>EarlyStopping's patience (on val_loss, or loss without validation; the best weights restored), or null for none.</summary>
    public int? EarlyStopping { get; init; }

    /// <summary>ReduceLROnPlateau's patience (halving the rate down to 1e-6), or null for none.</summary>
    public int? ReduceLrOnPlateau { get; init; }

    /// <summary>Fraction of each class held out for validation (stratified, a new split for each seed); 0 for none.</summary>
    public double ValidationSplit { get; init; } = 0.1;

    /// <summary>Seeds initialisation, the split, shuffling, dropout and augmentation (member k of an ensemble: Seed + k).</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>Worker threads; 0 for one per core. The bits do not depend on it.</summary>
    public int Threads { get; init; }

    /// <summary>Where to keep the model of the best epoch by val_accuracy (accuracy without validation), or null.</summary>
    public string? CheckpointPath { get; init; }

    /// <summary>
    /// Where <see cref="BackupAndRestore"/> keeps the training state at each epoch's end, so that the
    /// same run started again after an interruption resumes from the last finished epoch (each
    /// member of an <see cref="EnsembleTrainer"/> in its own subfolder <c>member&lt;k&gt;</c>); null for none.
    /// </summary>
    public string? BackupDirectory { get; init; }

    /// <summary>Extra entries recorded in the metadata of every file the run writes (e.g. the data file's name).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();

    /// <summary>The settings <paramref name="recipe"/> was tuned with, for its own architecture.</summary>
    public static TrainingSettings For(Recipe recipe)
    {
        ArgumentNullException.ThrowIfNull(recipe);
        return new TrainingSettings
        {
            Architecture = recipe.Name,
            Epochs = recipe.Epochs,
            BatchSize = recipe.BatchSize,
            LearningRate = recipe.LearningRate,
            Schedule = recipe.Schedule,
            Augmentation = recipe.Augmentation,
            EmaMomentum = recipe.EmaMomentum,
            LabelSmoothing = recipe.LabelSmoothing,
        };
    }

    /// <summary>
    /// The default recipe's settings (<see cref="Architectures.Default"/>) for fine-tuning the model in
    /// <paramref name="path"/>: <see cref="From"/> and <see cref="Architecture"/> are the path.
    /// </summary>
    public static TrainingSettings ForModel(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return For(Architectures.Default) with { Architecture = path, From = path };
    }

    /// <summary>A recipe's settings when <paramref name="architecture"/> names one; else the default recipe's (<see cref="Architectures.Default"/>) for that spec or file.</summary>
    public static TrainingSettings For(string architecture)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        return For(Architectures.Find(architecture) ?? Architectures.Default) with { Architecture = architecture };
    }
}
