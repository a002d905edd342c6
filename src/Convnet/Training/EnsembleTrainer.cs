using System.Diagnostics;
using System.Runtime.ExceptionServices;
using Convnet.Data;
using Convnet.Models;

namespace Convnet.Training;

/// <summary>
/// Trains an ensemble as <c>convnet train --ensemble N</c> does: member k with seed
/// <see cref="TrainingSettings.Seed"/> + k for its initialisation, shuffling, dropout, augmentation
/// and its own validation split; <see cref="Parallel"/> members at a time, each on its share of the
/// threads (a member's bits do not depend on its threads). A finished member is kept as a
/// <see cref="Sequential.Clone"/>, its parameters only.
/// <code>
/// using var result = new EnsembleTrainer(TrainingSettings.For(Architectures.Strong), members: 3).Train(data);
/// result.Ensemble.Save("ensemble.safetensors");
/// </code>
/// </summary>
public sealed class EnsembleTrainer
{
    /// <summary>A trainer of <paramref name="members"/> models with the same settings and consecutive seeds.</summary>
    /// <param name="settings">The settings of every member; member k's seed is <see cref="TrainingSettings.Seed"/> + k.</param>
    /// <param name="members">Models to train, at least 1.</param>
    /// <param name="parallelMembers">Members trained at the same time, sharing the threads; 0 for one per thread.</param>
    /// <exception cref="ArgumentNullException"><paramref name="settings"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="members"/> is below 1 or <paramref name="parallelMembers"/> is negative.</exception>
    public EnsembleTrainer(TrainingSettings settings, int members, int parallelMembers = 0)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentOutOfRangeException.ThrowIfLessThan(members, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(parallelMembers);
        Trainer = new Trainer(settings) { BackupPerMember = true };
        Members = members;
        ParallelMembers = parallelMembers;
    }

    /// <summary>The trainer each member's run comes from (each member's backup in its own subfolder, see <see cref="Trainer.BackupDirectory"/>).</summary>
    public Trainer Trainer { get; }

    /// <summary>The settings of every member.</summary>
    public TrainingSettings Settings => Trainer.Settings;

    /// <summary>The number of models to train.</summary>
    public int Members { get; }

    /// <summary>Members trained at the same time as asked for; 0 for one per thread (see <see cref="Parallel"/>).</summary>
    public int ParallelMembers { get; }

    /// <summary>The threads shared out: <see cref="TrainingSettings.Threads"/>, or one per core.</summary>
    public int Threads => Settings.Threads == 0 ? Environment.ProcessorCount : Settings.Threads;

    /// <summary>Members trained at the same time.</summary>
    public int Parallel => Math.Min(Members, ParallelMembers == 0 ? Threads : ParallelMembers);

    /// <summary>Called as each member's model is built, in member order, on the calling thread.</summary>
    public Action<TrainingRun>? MemberStarting { get; set; }

    /// <summary>Extra callbacks for a member's Fit (e.g. a progress display; see <see cref="TrainingRun.SharesTheMachine"/>).</summary>
    public Func<TrainingRun, IEnumerable<Callback>>? MemberCallbacks { get; set; }

    /// <summary>Called when a member has trained, on its own thread when several train at once.</summary>
    public Action<TrainingRun>? MemberTrained { get; set; }

    /// <summary>
    /// Trains every member on <paramref name="data"/>, <see cref="Parallel"/> at a time, and returns
    /// the ensemble of their models in member order. With <see cref="TrainingSettings.BackupDirectory"/>,
    /// each member resumes from its own backup (see <see cref="DeleteBackups"/>).
    /// </summary>
    /// <param name="data">The labelled data; each member splits off its own validation set from it.</param>
    /// <param name="cancellationToken">Stops training; the members' backups stay.</param>
    /// <param name="firstSplit">Member 0's training and validation sets when already made (they must be <see cref="Trainer.Split"/>'s for the settings' seed).</param>
    /// <exception cref="TrainingDivergedException">A member diverged; the others were stopped.</exception>
    public EnsembleResult Train(Dataset data, CancellationToken cancellationToken = default, (Dataset Train, Dataset? Validation)? firstSplit = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        int n = Members;
        int threads = Threads;
        int parallel = Parallel;
        int classes = Trainer.Classes(data);
        var members = new List<Sequential>(n);
        var results = new List<MemberResult>(n);
        Dictionary<string, string>? metadata = null;
        var clock = Stopwatch.StartNew();
        try
        {
            for (int first = 0; first < n; first += parallel)
            {
                int count = Math.Min(parallel, n - first);
                var group = new List<TrainingRun>(count);
                try
                {
                    for (int i = 0; i < count; i++)
                    {
                        int k = first + i;
                        ulong seed = unchecked(Settings.Seed + (ulong)k);
                        var (train, validation) = k == 0 && firstSplit is { } given ? given : Trainer.Split(data, seed);
                        // This group's share of the threads, the first members taking what does not divide.
                        int share = Math.Max(1, threads / count + (i < threads % count ? 1 : 0));
                        var run = Trainer.Start(train, validation, classes, seed, share, k);
                        run.SharesTheMachine = count > 1;
                        group.Add(run);
                        metadata ??= new Dictionary<string, string>(run.Metadata);
                        MemberStarting?.Invoke(run);
                    }
                    TrainGroup(group, cancellationToken);
                    foreach (var run in group)
                    {
                        results.Add(new MemberResult(run.Member, run.Seed, run.History!, run.Seconds));
                        members.Add(run.Model.Clone());
                    }
                }
                finally
                {
                    foreach (var run in group)
                    {
                        run.Dispose();
                    }
                }
            }
            return new EnsembleResult(new Ensemble(members), results, metadata!, clock.Elapsed.TotalSeconds);
        }
        catch
        {
            foreach (var member in members)
            {
                member.Dispose();
            }
            throw;
        }
    }

    /// <summary>
    /// Deletes every member's backup (<see cref="TrainingSettings.BackupDirectory"/>/member&lt;k&gt;),
    /// and the folder when that empties it: call it once the ensemble is saved. Until then a finished
    /// member's backup lets a resumed run skip it.
    /// </summary>
    public void DeleteBackups()
    {
        if (Settings.BackupDirectory is not { } directory)
        {
            return;
        }
        for (int k = 0; k < Members; k++)
        {
            new BackupAndRestore(Trainer.BackupDirectory(k)!).Delete();
        }
        if (Directory.Exists(directory) && !Directory.EnumerateFileSystemEntries(directory).Any())
        {
            Directory.Delete(directory);
        }
    }

    private void TrainOne(TrainingRun run, CancellationToken cancellationToken)
    {
        run.Fit(MemberCallbacks?.Invoke(run), cancellationToken);
        MemberTrained?.Invoke(run);
    }

    /// <summary>Trains <paramref name="group"/> at the same time, each on a thread of its own; the first failure stops the others and is thrown.</summary>
    private void TrainGroup(List<TrainingRun> group, CancellationToken cancellationToken)
    {
        if (group.Count == 1)
        {
            TrainOne(group[0], cancellationToken);
            return;
        }
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var tasks = group.Select(run => Task.Factory.StartNew(() =>
        {
            try
            {
                TrainOne(run, stop.Token);
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
            ExceptionDispatchInfo.Capture(cause).Throw();
        }
    }
}

/// <summary>What one member of an <see cref="EnsembleTrainer"/> run gave.</summary>
/// <param name="Index">The member's number, 0-based.</param>
/// <param name="Seed">The member's seed: the settings' seed + Index.</param>
/// <param name="History">The member's per-epoch logs.</param>
/// <param name="Seconds">Wall-clock time of the member's training.</param>
public sealed record MemberResult(int Index, ulong Seed, History History, double Seconds);

/// <summary>A trained ensemble, its members' results and the run's settings as metadata. Disposing it disposes the ensemble.</summary>
public sealed class EnsembleResult(Ensemble ensemble, IReadOnlyList<MemberResult> members, Dictionary<string, string> metadata, double seconds) : IDisposable
{
    /// <summary>The trained members, in member order.</summary>
    public Ensemble Ensemble { get; } = ensemble;

    /// <summary>Each member's index, seed, history and time, in member order.</summary>
    public IReadOnlyList<MemberResult> Members { get; } = members;

    /// <summary>The run's settings (member 0's), for the file's top level.</summary>
    public Dictionary<string, string> Metadata { get; } = metadata;

    /// <summary>Wall-clock time of the whole run.</summary>
    public double Seconds { get; } = seconds;

    /// <summary>Disposes <see cref="Ensemble"/> and so its members.</summary>
    public void Dispose() => Ensemble.Dispose();
}
