using Convnet.Optimizers;
using Convnet.Runtime;
using Convnet.Tuning;
using Xunit;

namespace Convnet.Tests.Tuning;

/// <summary>The space's grammar: lists, ranges, one values, templates; every bad space refused at its token.</summary>
public class SearchSpaceTests
{
    [Fact]
    public void Lists_ranges_and_single_values_become_parameters_and_fixed_options()
    {
        var space = SearchSpace.Parse("""{"lr": {"min": 0.0003, "max": 0.01, "log": true}, "batch-size": [64, 128], "optimizer": "adamw", "epochs": {"min": 2, "max": 4}}""");
        Assert.Equal(["lr", "batch-size", "epochs"], space.Parameters.Select(p => p.Name));
        var lr = Assert.IsType<ValueRange>(space.Parameters[0].Domain);
        Assert.True(lr.Log && !lr.Integer && lr.Min == 0.0003 && lr.Max == 0.01);
        Assert.Equal(["64", "128"], space.Parameters[1].Domain.Values!);
        Assert.Equal(["2", "3", "4"], space.Parameters[2].Domain.Values!);
        Assert.Equal([new KeyValuePair<string, string>("optimizer", "adamw")], space.Fixed);
        Assert.Null(space.GridSize);
    }

    [Fact]
    public void A_point_becomes_the_settings_train_would_use_with_the_recipe_defaults_for_the_rest()
    {
        var space = SearchSpace.Parse("""{"arch": ["simple", "strong"], "lr": [0.002]}""", [new("epochs", "3")]);
        var simple = space.Settings(["simple", "0.002"], "general");
        Assert.Equal(("simple", 3, 0.002f, 64), (simple.Architecture, simple.Epochs, simple.LearningRate, simple.BatchSize));
        Assert.Equal(RateSchedule.Cosine, simple.Schedule);
        Assert.Null(simple.EmaMomentum);
        var strong = space.Settings(["strong", "0.002"], "general");
        Assert.Equal(0.999f, strong.EmaMomentum);                 // strong's recipe brings its average
        Assert.Equal(RateSchedule.Exponential(0.95f), strong.Schedule);
        var general = SearchSpace.Parse("""{"lr": [0.001]}""").Settings(["0.001"], "general");
        Assert.Equal((10, 0.1f), (general.Epochs, general.LabelSmoothing));
    }

    [Fact]
    public void Early_stopping_without_ema_drops_the_recipes_average_as_train_does()
    {
        var space = SearchSpace.Parse("""{"early-stopping": [2]}""", [new("arch", "strong")]);
        Assert.Null(space.Settings(["2"], "general").EmaMomentum);
    }

    [Fact]
    public void An_arch_template_has_a_parameter_per_hole_and_fills_them()
    {
        var space = SearchSpace.Parse("""{"lr": [0.001, 0.002], "arch": "conv{16|32}k3-relu,maxpool2,flatten,dense{8..64}-relu,drop{0.2..0.5}"}""");
        Assert.Equal(["lr", "arch{1}", "arch{2}", "arch{3}"], space.Parameters.Select(p => p.Name));
        Assert.Equal(["16", "32"], space.Parameters[1].Domain.Values!);
        Assert.True(space.Parameters[2].Domain is ValueRange { Integer: true, Min: 8, Max: 64 });
        Assert.True(space.Parameters[3].Domain is ValueRange { Integer: false, Min: 0.2, Max: 0.5 });
        var values = space.OptionValues(["0.002", "32", "40", "0.25"]);
        Assert.Equal("conv32k3-relu,maxpool2,flatten,dense40-relu,drop0.25", values.Single(v => v.Key == "arch").Value);
        Assert.Equal("0.002", values.Single(v => v.Key == "lr").Value);
    }

    [Fact]
    public void A_template_given_as_a_fixed_arch_option_is_searched_too()
    {
        var space = SearchSpace.Parse("""{"lr": [0.001]}""", [new("arch", "conv{8|16}k3-relu,flatten")]);
        Assert.Equal(["lr", "arch{1}"], space.Parameters.Select(p => p.Name));
    }

    /// <summary>Where the error points: the offset of <paramref name="token"/> in the text.</summary>
    private static void RejectedAt(string json, string token, string message, int occurrence = 0)
    {
        var e = Assert.Throws<SearchSpaceException>(() => SearchSpace.Parse(json));
        Assert.Contains(message, e.Message);
        int at = -1;
        for (int i = 0; i <= occurrence; i++)
        {
            at = json.IndexOf(token, at + 1, StringComparison.Ordinal);
        }
        Assert.True(at >= 0, $"'{token}' not in the text");
        Assert.Equal(at, e.Offset);
    }

    [Fact]
    public void Bad_spaces_are_rejected_at_their_token()
    {
        RejectedAt("""{"lr": {"min": 0.01, "max": 0.001}}""", "0.01", "\"lr\": min 0.01 is above max 0.001");
        RejectedAt("""{"batch-size": [64], "learning-rat": [0.1]}""", "\"learning-rat\"", "unknown option \"learning-rat\" (did you mean \"lr\"?)");
        RejectedAt("""{"batch-size": [64], "batch_size": [0.1]}""", "\"batch_size\"", "did you mean \"batch-size\"?");
        RejectedAt("""{"seed": [1, 2]}""", "\"seed\"", "\"seed\" is not searched");
        RejectedAt("""{"dropout": [0.2]}""", "\"dropout\"", "dropout rates are searched inside \"arch\"");
        RejectedAt("""{"batch-size": [64, 12.5]}""", "12.5", "\"batch-size\": needs a whole number, got 12.5");
        RejectedAt("""{"batch-size": [64, 0]}""", "0]", "\"batch-size\": must be at least 1, got 0");
        RejectedAt("""{"lr": [0.001, -1]}""", "-1", "\"lr\": must be positive");
        RejectedAt("""{"lr": ["fast"]}""", "\"fast\"", "\"lr\": needs a number, got \"fast\"");
        RejectedAt("""{"optimizer": ["adam", "adagrad"]}""", "\"adagrad\"", "\"optimizer\": must be one of adam, adamw, rmsprop, sgd, got 'adagrad'");
        RejectedAt("""{"optimizer": {"min": 1, "max": 2}}""", "{\"min\"", "\"optimizer\": takes a list of values, not a range");
        RejectedAt("""{"label-smoothing": {"min": 0, "max": 0.1, "log": true}}""", "0,", "a log range needs min > 0, got 0");
        RejectedAt("""{"lr": {"min": 0, "max": 0.1}}""", "0,", "\"lr\": min must be positive, got 0");
        RejectedAt("""{"lr": {"min": 0.001, "mx": 0.1}}""", "\"mx\"", "unknown key \"mx\" in a range");
        RejectedAt("""{"lr": {"min": 0.001}}""", "{\"min\"", "a range needs both min and max");
        RejectedAt("""{"lr": []}""", "[]", "an empty list");
        RejectedAt("""{"lr": [0.1, 0.1]}""", "0.1", "0.1 is listed twice", occurrence: 1);
        RejectedAt("""{"lr": [0.1], "lr": [0.2]}""", "\"lr\"", "\"lr\": given twice", occurrence: 1);
        RejectedAt("""{"label-smoothing": [0.1, 1]}""", "1]", "must be in [0, 1), got 1");
        RejectedAt("""{"lr-schedule": ["cosine", "linear"]}""", "\"linear\"", "schedule must be constant, cosine");
        RejectedAt("""{"augment": ["rotation=10", "spin=3"]}""", "\"spin=3\"", "unknown key 'spin'");
        RejectedAt("""[0.1]""", "[", "must be a JSON object");
    }

    [Fact]
    public void Malformed_json_is_rejected_where_the_reader_stopped()
    {
        var e = Assert.Throws<SearchSpaceException>(() => SearchSpace.Parse("""{"lr": [0.001 0.01]}"""));
        Assert.Contains("not valid JSON", e.Message);
        Assert.InRange(e.Offset, 13, 15);
        var second = Assert.Throws<SearchSpaceException>(() => SearchSpace.Parse("{\n  \"lr\": [0.001],\n  \"batch-size\" [64]\n}"));
        Assert.Equal("{\n  \"lr\": [0.001],\n  \"batch-size\" ".Length, second.Offset);
    }

    [Fact]
    public void Bad_templates_are_rejected_at_their_hole_in_the_space_text()
    {
        RejectedAt("""{"arch": "conv{16|32k3-relu,flatten"}""", "{16", "'{' at column 5 is not closed");
        RejectedAt("""{"arch": "conv{16||32}k3-relu,flatten"}""", "{16", "has an empty value");
        RejectedAt("""{"arch": "conv16k3-relu,drop{0.5..0.2}"}""", "{0.5", "min 0.5 is above max 0.2");
        RejectedAt("""{"arch": "conv16k3-relu,drop{a..b}"}""", "{a..b}", "a range needs two non-negative numbers");
        RejectedAt("""{"arch": "conv16k3-relu},flatten"}""", "}", "'}' at column 14 closes no '{'");
        // drop1.5 is no dropout rate: the hole's end is tried and the spec parser's message kept.
        RejectedAt("""{"arch": "conv16k3-relu,drop{0.2..1.5}"}""", "{0.2", "{0.2..1.5} at column 19 with 1.5 gives 'conv16k3-relu,drop1.5'");
        RejectedAt("""{"arch": "conv{16|x}k3-relu"}""", "{16", "with x gives 'convxk3-relu'");
        RejectedAt("""{"arch": ["simple", "conv{8|16}k3"]}""", "\"conv{8", "a template with holes must be the value of \"arch\" alone");
    }

    [Fact]
    public void An_option_in_the_space_and_on_the_command_line_is_refused()
    {
        var e = Assert.Throws<SearchSpaceException>(() => SearchSpace.Parse("""{"lr": [0.1]}""", [new("lr", "0.2")]));
        Assert.Contains("\"lr\": is in the space and also given as --lr", e.Message);
    }

    [Fact]
    public void The_grid_lists_every_point_the_first_parameter_slowest()
    {
        var space = SearchSpace.Parse("""{"batch-size": [32, 64], "optimizer": ["adam", "sgd", "rmsprop"]}""");
        Assert.Equal(6, space.GridSize);
        string[][] expected = [["32", "adam"], ["32", "sgd"], ["32", "rmsprop"], ["64", "adam"], ["64", "sgd"], ["64", "rmsprop"]];
        Assert.Equal(expected, space.Grid().ToArray());
        var rung = new GridSearch().First(space, seed: 1);
        Assert.Equal(expected, rung.Trials.Select(t => t.Point.ToArray()).ToArray());
        Assert.Equal([0, 1, 2, 3, 4, 5], rung.Trials.Select(t => t.Index));
        Assert.Equal(expected[..4], new GridSearch(maxTrials: 4).First(space, seed: 1).Trials.Select(t => t.Point.ToArray()).ToArray());
    }

    [Fact]
    public void A_grid_over_a_range_of_real_numbers_is_refused()
    {
        var space = SearchSpace.Parse("""{"lr": {"min": 0.001, "max": 0.01}}""");
        var e = Assert.Throws<ArgumentException>(() => new GridSearch().First(space, 1));
        Assert.Contains("\"lr\" is a range of real numbers, which a grid cannot list", e.Message);
    }

    [Fact]
    public void Random_points_are_drawn_from_the_seed_and_trial_number_as_documented()
    {
        var space = SearchSpace.Parse("""{"batch-size": [32, 64, 128], "lr": {"min": 0.0001, "max": 0.1, "log": true}, "epochs": {"min": 1, "max": 5}}""");
        var trials = new RandomSearch(4).First(space, seed: 7).Trials;
        for (int k = 0; k < 4; k++)
        {
            // Point k: a generator keyed by (seed, k << 20 + attempt), then each parameter in the space's order.
            var rng = Rng.Derive(7, (ulong)k << 20);
            string batch = new[] { "32", "64", "128" }[rng.NextInt(3)];
            double u = rng.NextDouble();
            double lr = Math.Exp(Math.Log(0.0001) + u * (Math.Log(0.1) - Math.Log(0.0001)));
            string epochs = (1 + Math.Floor(rng.NextDouble() * 5)).ToString(System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal(batch, trials[k].Point[0]);
            Assert.Equal(double.Parse(lr.ToString("G3", System.Globalization.CultureInfo.InvariantCulture), System.Globalization.CultureInfo.InvariantCulture).ToString(System.Globalization.CultureInfo.InvariantCulture), trials[k].Point[1]);
            Assert.Equal(epochs, trials[k].Point[2]);
        }
        // More trials extend the search: the first four stay.
        Assert.Equal(trials.Select(t => t.Point.ToArray()), new RandomSearch(9).First(space, seed: 7).Trials.Take(4).Select(t => t.Point.ToArray()));
        Assert.NotEqual(trials.Select(t => string.Join(",", t.Point)), new RandomSearch(4).First(space, seed: 8).Trials.Select(t => string.Join(",", t.Point)));
    }

    [Fact]
    public void Random_points_do_not_repeat_and_stop_at_the_size_of_a_finite_space()
    {
        var space = SearchSpace.Parse("""{"batch-size": [32, 64], "optimizer": ["adam", "sgd"]}""");
        var trials = new RandomSearch(10).First(space, seed: 3).Trials;
        Assert.Equal(4, trials.Count);
        Assert.Equal(4, trials.Select(t => string.Join(",", t.Point)).Distinct().Count());
    }

    [Fact]
    public void Log_uniform_draws_fall_below_the_geometric_mean_half_the_time_and_stay_in_range()
    {
        var range = new ValueRange(0.0001, 0.01, log: true, integer: false);
        int below = 0;
        const int n = 4000;
        for (ulong k = 0; k < n; k++)
        {
            var rng = new Rng(k);
            double x = double.Parse(range.Sample(ref rng), System.Globalization.CultureInfo.InvariantCulture);
            Assert.InRange(x, 0.0001, 0.01);
            below += x < 0.001 ? 1 : 0;
        }
        Assert.InRange(below, n * 0.46, n * 0.54);          // uniform would put 9% below 0.001
        var whole = new ValueRange(1, 3, log: false, integer: true);
        var seen = new HashSet<string>();
        for (ulong k = 0; k < 200; k++)
        {
            var rng = new Rng(k);
            seen.Add(whole.Sample(ref rng));
        }
        Assert.Equal(["1", "2", "3"], seen.Order());
    }
}
