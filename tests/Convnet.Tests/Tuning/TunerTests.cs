using Convnet.Data;
using Convnet.Saving;
using Convnet.Tests.Data;
using Convnet.Tests.Models;
using Convnet.Tuning;
using Xunit;

namespace Convnet.Tests.Tuning;

/// <summary>Searches on tiny synthetic data: the known best is found, results do not depend on threads or order, a search resumes.</summary>
public class TunerTests
{
    private static readonly Dataset Digits = SyntheticDigits.Create(200, seed: 11);

    private static readonly KeyValuePair<string, string>[] Tiny = [new("arch", "conv4k3-relu,maxpool2,flatten"), new("batch-size", "16"), new("epochs", "2")];

    private static readonly KeyValuePair<string, string>[] TinyNet = [new("arch", "conv4k3-relu,maxpool2,flatten"), new("epochs", "2")];

    private static Tuner Search(string json, SearchStrategy strategy, int folds = 0, int threads = 1, int parallel = 1, string? directory = null, KeyValuePair<string, string>[]? fixedOptions = null) =>
        new(SearchSpace.Parse(json, fixedOptions ?? Tiny), strategy, new TrialObjective(Digits, folds, 0.2, seed: 3))
        {
            Seed = 9,
            Threads = threads,
            Parallel = parallel,
            Directory = directory,
        };

    [Fact]
    public void A_search_over_two_parameters_finds_the_setting_known_to_be_best()
    {
        // A rate of 1e-6 cannot move the weights in a few steps, and one epoch is fewer steps than four.
        var tuner = Search("""{"lr": [0.000001, 0.01], "epochs": [1, 4]}""", new GridSearch(), parallel: 2, threads: 2,
            fixedOptions: [new("arch", "flatten,dense16-relu"), new("batch-size", "16")]);
        var result = tuner.Run();
        Assert.Equal(4, result.Leaderboard.Count);
        Assert.Equal(["0.01", "4"], result.Best!.Trial.Point);
        Assert.Equal(["0.01", "1"], result.Leaderboard[1].Trial.Point);
        Assert.True(result.Best.MeanAccuracy > 0.9, $"{result.Best.MeanAccuracy}");
        Assert.True(result.Leaderboard[^1].MeanAccuracy < 0.5);
    }

    private static void SameBits(TrialResult a, TrialResult b)
    {
        Assert.Equal(a.Trial.Index, b.Trial.Index);
        Assert.Equal(a.Trial.Point, b.Trial.Point);
        Assert.Equal(a.Seed, b.Seed);
        Assert.Equal(a.Folds.Count, b.Folds.Count);
        for (int f = 0; f < a.Folds.Count; f++)
        {
            Assert.Equal(a.Folds[f].ValidationAccuracy, b.Folds[f].ValidationAccuracy);
            Assert.Equal(a.Folds[f].ValidationLoss, b.Folds[f].ValidationLoss);
            Assert.Equal(a.Folds[f].History.Select(e => (e.Loss, e.Accuracy, e.ValidationLoss, e.ValidationAccuracy, e.LearningRate)),
                b.Folds[f].History.Select(e => (e.Loss, e.Accuracy, e.ValidationLoss, e.ValidationAccuracy, e.LearningRate)));
        }
    }

    [Fact]
    public void A_trials_result_is_the_same_bits_whatever_the_threads_and_the_trials_beside_it()
    {
        const string space = """{"lr": {"min": 0.001, "max": 0.02, "log": true}, "batch-size": [8, 16]}""";
        var alone = Search(space, new RandomSearch(4), folds: 2, threads: 1, parallel: 1, fixedOptions: TinyNet).Run();
        var sideBySide = Search(space, new RandomSearch(4), folds: 2, threads: 2, parallel: 2, fixedOptions: TinyNet).Run();
        var twoThreads = Search(space, new RandomSearch(4), folds: 2, threads: 2, parallel: 1, fixedOptions: TinyNet).Run();
        // Trial 1 of a 2-trial search ran beside other trials, in another order.
        var fewer = Search(space, new RandomSearch(2), folds: 2, threads: 2, parallel: 2, fixedOptions: TinyNet).Run();
        foreach (var other in new[] { sideBySide, twoThreads })
        {
            foreach (var r in alone.All)
            {
                SameBits(r, other.All.Single(o => o.Trial.Index == r.Trial.Index));
            }
        }
        SameBits(alone.All.Single(r => r.Trial.Index == 1), fewer.All.Single(r => r.Trial.Index == 1));
        Assert.Equal(2, alone.All[0].Folds.Count);
        Assert.NotEqual(alone.All[0].Seed, alone.All[1].Seed);
    }

    private static string[][] Board(TuningResult result, SearchSpace space)
    {
        int seconds = Leaderboard.Columns(space).ToList().IndexOf("seconds");
        return [.. Leaderboard.Rows(space, result.Leaderboard).Select(row => row.Where((_, i) => i != seconds).ToArray())];
    }

    [Fact]
    public void A_search_stopped_after_two_trials_and_run_again_gives_the_uninterrupted_leaderboard()
    {
        using var dir = new TempDir();
        const string space = """{"lr": {"min": 0.001, "max": 0.02, "log": true}}""";
        var whole = Search(space, new SuccessiveHalving(6, 3), directory: dir.File("whole"));
        var uninterrupted = whole.Run();

        using var stop = new CancellationTokenSource();
        var first = Search(space, new SuccessiveHalving(6, 3), directory: dir.File("resumed"));
        int finished = 0;
        first.TrialFinished = (_, _) =>
        {
            if (++finished == 2)
            {
                stop.Cancel();
            }
        };
        Assert.ThrowsAny<OperationCanceledException>(() => first.Run(stop.Token));
        Assert.Equal(2, Directory.GetFiles(dir.File("resumed/trials")).Length);

        var again = Search(space, new SuccessiveHalving(6, 3), directory: dir.File("resumed"));
        var resumed = again.Run();
        Assert.Equal(2, resumed.Resumed);
        Assert.Equal(Board(uninterrupted, whole.Space), Board(resumed, again.Space));
        Assert.Equal(uninterrupted.Rungs.Select(r => (r.Epochs, string.Join(",", r.Trials.Select(t => t.Index)))), resumed.Rungs.Select(r => (r.Epochs, string.Join(",", r.Trials.Select(t => t.Index)))));
        // A third run trains nothing.
        Assert.Equal(uninterrupted.All.Count, Search(space, new SuccessiveHalving(6, 3), directory: dir.File("resumed")).Run().Resumed);
    }

    [Fact]
    public void A_directory_of_another_search_is_refused_naming_what_differs()
    {
        using var dir = new TempDir();
        Search("""{"lr": [0.001, 0.002]}""", new GridSearch(), directory: dir.Path).Run();
        var e = Assert.Throws<SearchDirectoryException>(() => Search("""{"lr": [0.001, 0.003]}""", new GridSearch(), directory: dir.Path).Run());
        Assert.Contains("holds another search (space is", e.Message);
        var folds = Assert.Throws<SearchDirectoryException>(() => Search("""{"lr": [0.001, 0.002]}""", new GridSearch(), folds: 2, directory: dir.Path).Run());
        Assert.Contains("evaluation is 'validation split 0.2' there, 'stratified 2-fold cross-validation' here", folds.Message);
    }

    [Fact]
    public void A_diverging_trial_is_recorded_as_failed_and_ranked_last()
    {
        using var dir = new TempDir();
        var tuner = Search("""{"lr": [1e30, 0.01]}""", new GridSearch(), directory: dir.Path);
        var result = tuner.Run();
        Assert.Equal(["0.01"], result.Best!.Trial.Point);
        var failed = result.Leaderboard[^1];
        Assert.False(failed.Succeeded);
        Assert.Contains("diverged", failed.Failure);
        // Kept and read back like any other trial.
        var again = Search("""{"lr": [1e30, 0.01]}""", new GridSearch(), directory: dir.Path).Run();
        Assert.Equal(failed.Failure, again.Leaderboard[^1].Failure);
    }

    [Fact]
    public void A_spent_time_budget_starts_no_trial_and_a_later_run_continues()
    {
        using var dir = new TempDir();
        var none = new Tuner(SearchSpace.Parse("""{"lr": [0.001, 0.002]}""", Tiny), new GridSearch(), new TrialObjective(Digits, 0, 0.2, 3))
        {
            Seed = 9,
            Threads = 1,
            Directory = dir.Path,
            TimeBudget = TimeSpan.Zero,
        }.Run();
        Assert.True(none.OutOfTime);
        Assert.Empty(none.Leaderboard);
        var later = Search("""{"lr": [0.001, 0.002]}""", new GridSearch(), directory: dir.Path).Run();
        Assert.False(later.OutOfTime);
        Assert.Equal(2, later.Leaderboard.Count);
    }

    [Fact]
    public void Conflicting_options_are_refused_before_training_naming_the_trial()
    {
        var tuner = Search("""{"optimizer": ["adamw", "adam"], "weight-decay": [0.01]}""", new GridSearch());
        var e = Assert.Throws<SearchSpaceException>(tuner.Plan);
        Assert.Contains("trial 1 (optimizer adam, weight-decay 0.01): weight-decay 0.01 needs optimizer adamw", e.Message);
    }

    [Fact]
    public void The_refit_trains_the_best_settings_on_all_the_data_with_the_trials_seed()
    {
        var tuner = Search("""{"lr": [0.001, 0.01]}""", new SuccessiveHalving(3, 3, factor: 3));
        var result = tuner.Run();
        var best = result.Best!;
        Assert.Equal(1, best.Rung);
        using var run = tuner.Refit(best);
        Assert.Equal(Digits.Count, run.Train.Count);
        Assert.Null(run.Validation);
        Assert.Equal(3, run.History!.Epochs.Count);
        Assert.Equal(best.Seed, run.Seed);
        Assert.Equal(best.Trial.Index.ToString(System.Globalization.CultureInfo.InvariantCulture), run.Metadata["tune_trial"]);
    }

    [Fact]
    public void The_readme_searches_keeps_the_trials_writes_the_leaderboard_and_refits_in_a_few_lines()
    {
        using var dir = new TempDir();
        var data = Digits;
        // The README's lines, with a smaller network, fewer epochs and fewer trials.
        var space = SearchSpace.Parse("""{"lr": {"min": 0.0003, "max": 0.01, "log": true}, "batch-size": [32, 64, 128]}""", [new("arch", "flatten"), new("epochs", "1")]);
        var tuner = new Tuner(space, new RandomSearch(trials: 3), new TrialObjective(data, folds: 3, validationSplit: 0, seed: 1))
        {
            Directory = dir.File("search"),
        };
        var result = tuner.Run();
        Leaderboard.WriteCsv(dir.File("leaderboard.csv"), space, result.Leaderboard);
        using var best = tuner.Refit(result.Best!);
        best.Model.Save(dir.File("best.safetensors"), best.Metadata);

        Assert.Equal(4, File.ReadAllLines(dir.File("leaderboard.csv")).Length);
        Assert.Equal(3, Directory.GetFiles(dir.File("search/trials")).Length);
        Assert.All(result.Leaderboard, r => Assert.Equal(3, r.Folds.Count));
        Assert.True(File.Exists(dir.File("best.safetensors")));
    }
}
