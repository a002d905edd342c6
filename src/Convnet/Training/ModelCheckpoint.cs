using System.Globalization;
using Convnet.IO;
using Convnet.Models;
using Convnet.Saving;

namespace Convnet.Training;

/// <summary>
/// Keras's ModelCheckpoint: saves the model after each epoch (atomically, via <see cref="ModelFile.Save(Sequential, string, IReadOnlyDictionary{string, string})"/>),
/// or with saveBestOnly only when <see cref="Monitor"/> improved; never an epoch whose weights are not finite. "{epoch}" in the path is replaced by the epoch number.
/// </summary>
public sealed class ModelCheckpoint : Callback, IStatefulCallback
{
    private double _best;

    /// <summary>A checkpoint to <paramref name="path"/>, with Keras's defaults.</summary>
    /// <param name="path">The model file to write; "{epoch}" in it becomes the 1-based epoch number, for one file per epoch.</param>
    /// <param name="monitor">"loss", "accuracy", "val_loss" (default) or "val_accuracy"; used only with <paramref name="saveBestOnly"/>.</param>
    /// <param name="saveBestOnly">Save only when the monitored value is better than at every earlier save (strictly; NaN never is).</param>
    /// <param name="metadata">Extra metadata written into each saved file, besides "epoch".</param>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty or white space, or <paramref name="monitor"/> is not one of the four names.</exception>
    public ModelCheckpoint(string path, string monitor = "val_loss", bool saveBestOnly = false, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        Path = path;
        MonitorName = CheckMonitor(monitor);
        SaveBestOnly = saveBestOnly;
        Metadata = metadata ?? new Dictionary<string, string>();
        OnTrainBegin();
    }

    /// <summary>Extra metadata written into each saved file (empty when none was given).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The model file to write, possibly with "{epoch}" in it.</summary>
    public string Path { get; }
    /// <summary>The value <see cref="SaveBestOnly"/> compares: "loss", "accuracy", "val_loss" or "val_accuracy".</summary>
    public string MonitorName { get; }
    /// <summary>Whether only epochs that improve the monitored value are saved.</summary>
    public bool SaveBestOnly { get; }

    /// <summary>Epochs saved so far, in order.</summary>
    public List<int> SavedEpochs { get; } = [];

    /// <summary>Forgets the best value of any earlier Fit.</summary>
    public override void OnTrainBegin() => _best = Maximize(MonitorName) ? double.NegativeInfinity : double.PositiveInfinity;

    /// <summary>Saves the model when its weights are finite and, with <see cref="SaveBestOnly"/>, the monitored value improved.</summary>
    /// <param name="log">The epoch's log: its number and monitored value.</param>
    /// <remarks>A write that fails throws as ModelFile.Save does, and leaves the previous file at the path as it was.</remarks>
    public override void OnEpochEnd(EpochLog log)
    {
        if (!RequireModel().WeightsAreFinite())
        {
            // A diverged epoch is never saved: the last finite one stays in the file.
            return;
        }
        if (SaveBestOnly)
        {
            double current = Monitor(log, MonitorName);
            bool better = Maximize(MonitorName) ? current > _best : current < _best;
            if (double.IsNaN(current) || !better)
            {
                return;
            }
            _best = current;
        }
        string path = Path.Replace("{epoch}", log.Epoch.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
        var metadata = new Dictionary<string, string>(Metadata) { ["epoch"] = log.Epoch.ToString(CultureInfo.InvariantCulture) };
        ModelFile.Save(RequireModel(), path, metadata);
        SavedEpochs.Add(log.Epoch);
    }

    /// <inheritdoc/>
    public void SaveState(CallbackState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        state.Set("best", _best);
        state.Set("saved_epochs", string.Join(',', SavedEpochs.Select(e => e.ToString(CultureInfo.InvariantCulture))));
    }

    /// <inheritdoc/>
    public void RestoreState(CallbackState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        _best = state.GetDouble("best");
        string saved = state.GetString("saved_epochs");
        var epochs = new List<int>();
        foreach (string item in saved.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            epochs.Add(int.TryParse(item, NumberStyles.Integer, CultureInfo.InvariantCulture, out int epoch)
                ? epoch
                : throw new FormatException($"callback value 'saved_epochs' is '{saved}', not a list of epochs"));
        }
        SavedEpochs.Clear();
        SavedEpochs.AddRange(epochs);
    }
}
