using System.Diagnostics;
using Convnet.Data;
using Convnet.Models;

namespace Convnet.Training;

/// <summary>
/// One model in training, made by <see cref="Trainer.Start"/>: the compiled model, its data, the
/// callbacks its settings asked for and the metadata to save with it; after <see cref="Fit"/>, what
/// it gave. Disposing the run disposes the model.
/// </summary>
public sealed class TrainingRun : IDisposable
{
    private readonly List<Callback> _callbacks;

    internal TrainingRun(int member, ulong seed, Sequential model, Dataset train, Dataset? validation, TrainingSettings settings, List<Callback> callbacks, Dictionary<string, string> metadata)
    {
        (Member, Seed, Model, Train, Validation, Settings, _callbacks, Metadata) = (member, seed, model, train, validation, settings, callbacks, metadata);
    }

    /// <summary>The ensemble member (0 for a single model).</summary>
    public int Member { get; }

    /// <summary>The seed of the model's weights and of Fit's shuffling, dropout and augmentation (the settings' seed + <see cref="Member"/> in an ensemble).</summary>
    public ulong Seed { get; }

    /// <summary>The compiled model; owned by the run.</summary>
    public Sequential Model { get; }

    /// <summary>The training set.</summary>
    public Dataset Train { get; }

    /// <summary>The validation set; null when training without one.</summary>
    public Dataset? Validation { get; }

    /// <summary>The settings the run was made from.</summary>
    public TrainingSettings Settings { get; }

    /// <summary>The settings as model-file metadata; add to it before saving (e.g. the history).</summary>
    public Dictionary<string, string> Metadata { get; }

    /// <summary>The callbacks the settings asked for (schedule, ReduceLROnPlateau, EarlyStopping, ModelCheckpoint), in the order Fit calls them.</summary>
    public IReadOnlyList<Callback> Callbacks => _callbacks;

    /// <summary>Always first in Fit's callbacks: stops at a non-finite loss, gradient norm or weights.</summary>
    public TerminateOnNaN Guard { get; } = new();

    /// <summary>The EarlyStopping of <see cref="Callbacks"/> (with <see cref="TrainingSettings.EarlyStopping"/> set), or null.</summary>
    public EarlyStopping? EarlyStopping => _callbacks.OfType<EarlyStopping>().FirstOrDefault();
    /// <summary>The ModelCheckpoint of <see cref="Callbacks"/> (with <see cref="TrainingSettings.CheckpointPath"/> set), or null.</summary>
    public ModelCheckpoint? Checkpoint => _callbacks.OfType<ModelCheckpoint>().FirstOrDefault();

    /// <summary>
    /// With <see cref="TrainingSettings.BackupDirectory"/>: the backup, always last in Fit's
    /// callbacks; it restores at Fit's start and is kept at its end, for the caller to
    /// <see cref="BackupAndRestore.Delete"/> once the model is saved. Null otherwise.
    /// </summary>
    public BackupAndRestore? Backup { get; init; }

    /// <summary>Whether several members train at the same time as this one (then a progress display should not assume the terminal is its own).</summary>
    public bool SharesTheMachine { get; internal set; }

    /// <summary>Set by <see cref="Fit"/>.</summary>
    public History? History { get; private set; }

    /// <summary>Wall-clock seconds of <see cref="Fit"/>.</summary>
    public double Seconds { get; private set; }

    /// <summary>
    /// With a moving average of the weights and validation data: the validation loss and accuracy of
    /// the averaged weights the model ends with (Fit's epochs measure the weights as trained); else null.
    /// </summary>
    public (double Loss, double Accuracy)? AveragedValidation { get; private set; }

    /// <summary>
    /// Trains with <see cref="Guard"/>, then <paramref name="callbacks"/> (e.g. a progress display),
    /// then <see cref="Callbacks"/>, then <see cref="Backup"/>.
    /// </summary>
    /// <exception cref="TrainingDivergedException">The loss, gradient norm or weights stopped being finite.</exception>
    public History Fit(IEnumerable<Callback>? callbacks = null, CancellationToken cancellationToken = default)
    {
        var s = Settings;
        List<Callback> all = [Guard, .. callbacks ?? [], .. _callbacks];
        if (Backup is not null)
        {
            all.Add(Backup);
        }
        var clock = Stopwatch.StartNew();
        var history = Model.Fit(Train, s.Epochs, s.BatchSize, Validation, seed: Seed, cancellationToken: cancellationToken, callbacks: all, augmentation: s.Augmentation);
        Seconds = clock.Elapsed.TotalSeconds;
        History = history;
        if (Guard.Diverged)
        {
            throw new TrainingDivergedException(Guard, Member);
        }
        if (s.EmaMomentum is not null && Validation is not null)
        {
            AveragedValidation = Model.Evaluate(Validation);
        }
        return history;
    }

    /// <summary>Disposes <see cref="Model"/>.</summary>
    public void Dispose() => Model.Dispose();
}
